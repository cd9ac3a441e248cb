import numpy as np
import pandas as pd
import pytest

from shelfwise.data.interactions import TYPE_CODES, Interactions
from shelfwise.ranking.candidates import retrieve_candidates
from shelfwise.ranking.exclusion import exclusion_mask
from shelfwise.ranking.features import build_features
from tests.ranking.conftest import build

CATALOGUE = pd.DataFrame({
    "item_id": ["A", "B", "C", "D"],
    "category": [["Beauty", "Skin"], ["Beauty", "Skin"], ["Home", "Decor"], ["Home", "Decor"]],
    "brand": ["X", "Y", "X", None],
    "price": [10.0, 20.0, 40.0, np.nan],
})
ROWS = [("u1", "A", "view", 0), ("u1", "A", "cart", 1), ("u1", "B", "view", 2), ("u1", "C", "purchase", 3),
        ("u2", "A", "purchase", 5), ("u2", "C", "view", 9),
        ("u3", "B", "favorite", 8), ("u3", "D", "view", 10)]


@pytest.fixture()
def table():
    inter = build(ROWS, ["A", "B", "C", "D"], ["u1", "u2", "u3"], CATALOGUE)
    cands = retrieve_candidates([("popular", 4)], inter, [0, 2], exclude=exclusion_mask(inter))
    f = build_features(inter, cands)
    f.index = [f"{inter.user_ids[u]}:{inter.item_ids[i]}" for u, i in zip(cands.users, cands.items,
                                                                          strict=True)]
    return f


def test_rows_follow_the_candidates(table):
    # u1 bought C, so it is not a candidate for u1; u3 bought nothing
    assert table.index.tolist() == ["u1:A", "u1:B", "u1:D", "u3:A", "u3:B", "u3:C", "u3:D"]
    assert table["score:popular"].tolist() == [2, 2, 1, 2, 2, 2, 1]
    assert table["rank:popular"].tolist() == [1, 2, 3, 1, 2, 3, 4]


def test_hand_computed_values(table):
    # now = day 10; the last 7 days hold u1's C (day 3), u2's A and C, u3's B and D
    expect = {
        "pop_all": {"u1:A": 2, "u1:B": 2, "u1:D": 1},
        "pop_recent": {"u1:A": 1, "u1:B": 1, "u3:C": 2, "u1:D": 1},
        # A bought by u2 of its two shoppers, C by u1 of its two; nobody bought B or D
        "pop_purchase": {"u1:A": 1, "u1:B": 0, "u3:C": 1, "u3:D": 0},
        "purchase_rate": {"u1:A": 0.5, "u1:B": 0, "u3:C": 0.5, "u3:D": 0},
        "purchase_share": {"u1:A": 0.25, "u3:B": 0},
        "item_age_days": {"u1:A": 10, "u1:B": 8, "u1:D": 0},
        # u1's events are on prices 10, 10, 20, 40: median 15; u3's on 20 and unknown: 20
        "log_price_ratio": {"u1:A": np.log(10 / 15), "u1:B": np.log(20 / 15), "u1:D": np.nan,
                            "u3:A": np.log(0.5)},
        "category_affinity": {"u1:A": 0.75, "u1:D": 0.25, "u3:D": 0.5},
        "days_since_category": {"u1:A": 8, "u1:D": 7, "u3:A": 2},
        "brand_affinity": {"u1:A": 0.75, "u1:B": 0.25, "u1:D": 0, "u3:C": 0},
        "n_view": {"u1:A": 1, "u1:B": 1, "u3:B": 0, "u3:D": 1},
        "n_cart": {"u1:A": 1, "u1:B": 0},
        "n_favorite": {"u3:B": 1, "u1:A": 0},
        "n_purchase": {"u1:A": 0, "u3:A": 0},
        "days_since_item": {"u1:A": 9, "u1:B": 8, "u1:D": np.nan, "u3:D": 0},
        "last_event_type": {"u1:A": TYPE_CODES["purchase"], "u3:A": TYPE_CODES["view"]},
        "n_events": {"u1:A": 4, "u3:B": 2},
        # u1's latest item is C (touched by u1, u2); u3's is D (u3 only)
        "cooc_last_item": {"u1:A": 2, "u1:B": 1, "u1:D": 0, "u3:A": 0, "u3:B": 1, "u3:D": 1},
    }
    for column, cells in expect.items():
        got = table.loc[list(cells), column].to_numpy(np.float64)
        np.testing.assert_allclose(got, list(cells.values()), rtol=1e-6, err_msg=column)


def test_features_on_a_synthetic_shop(small_shop):
    """Columns are finite where they must be, and ranks/scores mirror the candidates."""
    inter = Interactions.from_events(small_shop.events, items=small_shop.items)
    cands = retrieve_candidates([("itemknn", 20), ("popular", 20)], inter, np.arange(50),
                                exclude=exclusion_mask(inter))
    f = build_features(inter, cands)
    assert len(f) == len(cands)
    assert (f["rank:itemknn"].to_numpy() == cands.ranks[:, 0]).all()
    for col in ("pop_all", "pop_recent", "category_affinity", "brand_affinity", "n_events",
                "cooc_last_item", "n_view", "n_purchase"):
        assert np.isfinite(f[col]).all(), col
    assert (f["n_purchase"] == 0).all()  # purchased items were excluded from the candidates
    assert ((f["category_affinity"] >= 0) & (f["category_affinity"] <= 1)).all()
