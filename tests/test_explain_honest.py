"""Engine.explain says only what is true of the item for that shopper, checked against the
data: popularity ranks computed from the events, ranks read off the served list."""

import pandas as pd
import pytest

from shelfwise.config import Settings
from shelfwise.engine import Engine


@pytest.fixture(scope="module")
def engine(tmp_path_factory, small_shop):
    eng = Engine(Settings(home=tmp_path_factory.mktemp("explain")))
    eng.store.upsert_items(small_shop.items)
    eng.ingest(small_shop.events)
    eng.train(["itemknn", "userknn"])
    return eng


@pytest.fixture(scope="module")
def shop_ranks(engine) -> pd.Series:
    """Competition rank of each item by distinct shoppers (positive-weight events only)."""
    ev = engine.store.snapshot()
    weights = engine.settings.behaviour_weights
    ev = ev[ev["event_type"].map(lambda t: weights.get(t, 0.0) > 0)]
    counts = ev.groupby("item_id")["user_id"].nunique()
    return counts.rank(method="min", ascending=False).astype(int)


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def test_a_new_shopper_hears_the_items_true_popularity_rank(engine, shop_ranks):
    for rank in (1, 2, 3):
        item = shop_ranks[shop_ranks == rank].index[0]
        text = " ".join(engine.explain("someone-new", item))
        assert f"the shop's {_ordinal(rank)} most popular item" in text
    # the fallback list a new shopper is served starts with those items
    served = [r.item_id for r in engine.recommend("someone-new", 3)]
    assert [shop_ranks[i] for i in served] == sorted(shop_ranks[i] for i in served)


def test_an_unpopular_item_is_not_called_popular(engine, shop_ranks):
    item = shop_ranks.idxmax()  # the least popular item anyone touched
    assert shop_ranks[item] > 10
    text = " ".join(engine.explain("someone-new", item))
    assert "popular" not in text and f"ranked {_ordinal(shop_ranks[item])} of" in text


def test_an_item_the_shopper_already_has_is_not_presented_as_a_pick(engine, small_shop):
    events = engine.store.snapshot()
    bought = events[events["event_type"] == "purchase"].iloc[0]  # purchases are not shown again
    user, seen = str(bought["user_id"]), str(bought["item_id"])
    text = " ".join(engine.explain(user, seen))
    assert "already interacted" in text
    assert "because" not in text and "popular" not in text


def test_a_model_without_reasons_states_the_items_rank_for_the_shopper(engine, small_shop):
    user = str(small_shop.user_ids[5])
    served = engine.recommend(user, 10, model="userknn")
    assert {r.model for r in served} == {"userknn"}
    for rank in (1, 4):
        text = engine.explain(user, served[rank - 1].item_id, model="userknn")
        # what the model computes, as the list says it, then where the list has it
        assert text == ["shoppers whose history is like yours chose it",
                        f"{_ordinal(rank)} in your list, placed by the userknn model (ranked)"]
        assert served[rank - 1].reason == text[0]


def test_an_item_based_model_keeps_its_reasons_and_says_the_rank(engine, small_shop):
    user = str(small_shop.user_ids[5])
    top = engine.recommend(user, 1)[0]
    reasons = engine.explain(user, top.item_id)
    titles = set(small_shop.items["title"])
    assert reasons[0] == top.reason
    assert reasons[0].startswith("because you ") or reasons[0].startswith("you ") or "in your cart" in reasons[0]
    assert any(t in reasons[0] for t in titles)
    assert reasons[1] == "1st in your list, placed by the itemknn model (ranked)"


def test_an_unknown_item_gets_no_invented_reason(engine, small_shop):
    text = engine.explain(str(small_shop.user_ids[5]), "no-such-item")
    assert text == ["no-such-item is not in the trained catalogue, so no model recommends it"]
