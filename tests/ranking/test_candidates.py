import numpy as np
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.models import MostPopular, create
from shelfwise.ranking.candidates import fit_retrievers, retrieve, retrieve_candidates
from shelfwise.ranking.exclusion import exclusion_mask
from tests.ranking.conftest import build

ITEMS = ["A", "B", "C", "D", "E"]
USERS = ["u1", "u2", "u3", "u4"]
ROWS = [(u, "A", "purchase", 0) for u in USERS] + \
       [(u, "B", "purchase", 0) for u in ("u2", "u3", "u4")] + \
       [(u, "C", "view", 0) for u in ("u3", "u4")] + \
       [("u1", "D", "view", 10), ("u2", "E", "cart", 10), ("u3", "E", "view", 10)]
# distinct users per item: A 4, B 3, C 2, D 1, E 2; with a one-day half-life only day 10 counts:
# E 2, D 1, then A 4 * 2^-10, B 3 * 2^-10, C 2 * 2^-10


@pytest.fixture()
def shop():
    return build(ROWS, ITEMS, USERS)


@pytest.fixture()
def retrievers(shop):
    return fit_retrievers([("popular", 2), (MostPopular(half_life_days=1.0).fit(shop), 2)], shop)


def rows_of(c, b):
    s = c.of(b)
    return [ITEMS[i] for i in c.items[s]], c.scores[s], c.ranks[s]


def test_merge_records_provenance_with_sentinels(shop, retrievers):
    c = retrieve(retrievers, [0, 1], exclude=exclusion_mask(shop))
    assert c.retrievers == ("popular", "popular#2")
    assert c.budgets.tolist() == [2, 2]
    assert c.users.tolist() == [0, 0, 0, 0, 1, 1, 1]
    # u1 bought A (excluded) and viewed D (eligible): popular gives B, C; recent gives E, D
    items, scores, ranks = rows_of(c, 0)
    assert items == ["B", "E", "C", "D"]  # by best rank, then item index
    assert ranks.tolist() == [[1, 3], [3, 1], [2, 3], [3, 2]]
    np.testing.assert_array_equal(scores, np.array(
        [[3, np.nan], [np.nan, 2], [2, np.nan], [np.nan, 1]], dtype=np.float32))
    # u2 bought A and B; the carted E stays eligible and both retrievers propose it
    items, scores, ranks = rows_of(c, 1)
    assert items == ["C", "E", "D"]
    assert ranks.tolist() == [[1, 3], [2, 1], [3, 2]]
    np.testing.assert_array_equal(scores, np.array(
        [[2, np.nan], [2, 2], [np.nan, 1]], dtype=np.float32))
    assert c.proposed[c.of(1)].tolist() == [[True, False], [True, True], [False, True]]


def test_without_mask_each_model_excludes_everything_seen(shop, retrievers):
    c = retrieve(retrievers, [0])
    assert sorted(ITEMS[i] for i in c.items) == ["B", "C", "E"]  # recent: E, then B (D seen)
    assert c.ranks.tolist() == [[1, 2], [3, 1], [2, 3]]


def test_bad_retriever_lists_say_which_entry(shop):
    with pytest.raises(ValueError, match=r"budget of retriever 1 must be an int >= 1\. Got 0"):
        fit_retrievers([("popular", 5), ("popular", 0)], shop)
    with pytest.raises(ValueError, match="Unknown model 'nope'"):
        fit_retrievers([("nope", 5)], shop)
    other = build(ROWS[:3], ["A"], ["u1", "u2", "u3"])
    with pytest.raises(ValueError, match=r"retriever 0 .* 3 users x 1 items, not on these 4 x 5"):
        fit_retrievers([(create("popular").fit(other), 3)], shop)


def test_real_models_budgets_filled_after_exclusion(small_shop):
    """On the synthetic shop, each retriever's rows are exactly its own full ranking with the
    mask applied, cut at its budget, whatever the other retrievers propose."""
    inter = Interactions.from_events(small_shop.events, items=small_shop.items)
    mask = exclusion_mask(inter)
    users = np.arange(0, inter.n_users, 7)
    specs = [("itemknn", 15), ("popular", 10), ("rules", 5)]
    c = retrieve_candidates(specs, inter, users, exclude=mask)
    assert np.all(np.diff(c.indptr) >= 15)
    models = [create(name).fit(inter) for name, _ in specs]
    for r, (model, (_, budget)) in enumerate(zip(models, specs, strict=True)):
        full, full_scores = model.recommend(users, n=inter.n_items, exclude_seen=False)
        for b, u in enumerate(users):
            keep = (full[b] >= 0) & ~np.isin(full[b], mask[u].indices)
            want = full[b][keep][:budget]
            s = c.of(b)
            got = c.items[s][c.ranks[s, r] <= budget]
            got_rank = c.ranks[s, r][c.ranks[s, r] <= budget]
            assert got[np.argsort(got_rank)].tolist() == want.tolist()
            assert not np.isin(c.items[s], mask[u].indices).any()
            np.testing.assert_allclose(np.sort(c.scores[s, r][~np.isnan(c.scores[s, r])])[::-1],
                                       full_scores[b][keep][:budget], rtol=1e-6)
