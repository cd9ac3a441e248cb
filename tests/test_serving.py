"""What the Engine serves through the pipeline: rules on every path, behaviour-aware
exclusion, explanations that are true, cold start in context, the exploration slot."""

from __future__ import annotations

import numpy as np
import pytest

from shelfwise.config import Settings
from shelfwise.data.schemas import Event, Item
from shelfwise.engine import Engine
from shelfwise.ranking.catalogue import category_paths
from shelfwise.ranking.rules import ItemFilter, Pin, Promotion, RuleSet
from shelfwise.serving import Context

pytest.importorskip("lightgbm", reason="the 'ranking' extra is not installed")
HYBRID = {"retrievers": [["itemknn", 30], ["ease", 30], ["rules", 20], ["popular", 20]]}


@pytest.fixture(scope="module")
def engine(tmp_path_factory, small_shop):
    eng = Engine(Settings(home=tmp_path_factory.mktemp("serving")))
    eng.store.upsert_items(small_shop.items)
    eng.ingest(small_shop.events)
    eng.train(["itemknn", "hybrid"], params={"hybrid": HYBRID})
    return eng


def _ids(recs) -> list[str]:
    return [r.item_id for r in recs]


def test_an_out_of_stock_item_is_never_returned_by_any_path(engine, small_shop):
    shopper = str(small_shop.user_ids[3])
    top_popular = _ids(engine.popular(1))[0]
    top_hybrid = _ids(engine.recommend(shopper, 1, "hybrid"))[0]
    top_similar = _ids(engine.similar(str(small_shop.item_ids[0]), 1, "itemknn"))[0]
    gone = {top_popular, top_hybrid, top_similar}
    rows = small_shop.items[small_shop.items["item_id"].isin(gone)].to_dict("records")
    engine.upsert_items([Item(**{**r, "in_stock": False}) for r in rows])
    cat = " > ".join(category_paths(small_shop.items, len(small_shop.items))[
        int(np.flatnonzero(small_shop.items["item_id"] == top_popular)[0])])
    pins = [Pin(item_id=i, position=k + 1) for k, i in enumerate(sorted(gone))]
    promo = Promotion(filter=ItemFilter(categories=[cat.split(" > ")[0]]), share=0.5)
    lists = [engine.popular(20), engine.similar(str(small_shop.item_ids[0]), 20, "itemknn"),
             engine.recommend("a-new-shopper", 20),
             engine.recommend("a-new-shopper", 20, context=Context(category=cat)),
             engine.recommend(shopper, 20, rules=RuleSet(pinned=pins)),
             engine.recommend(shopper, 20, rules=RuleSet(promotion=promo)),
             engine.recommend(shopper, 20, "itemknn", diversity=0.3)]
    lists += [engine.recommend(str(u), 20, m, explore=True) for u in small_shop.user_ids[:15]
              for m in ("hybrid", "itemknn")]
    for recs in lists:
        assert len(recs) > 0 and not gone & set(_ids(recs))
    # back in stock: they can be shown again
    engine.upsert_items([Item(**{**r, "in_stock": True}) for r in rows])
    assert top_popular in _ids(engine.popular(1))


def test_purchases_are_excluded_and_carts_stay_eligible(engine, small_shop):
    user = "cart-shopper"
    some = [str(i) for i in small_shop.item_ids[:4]]
    engine.ingest([Event(user_id=user, item_id=some[0], event_type="purchase", timestamp=1.78e9),
                   Event(user_id=user, item_id=some[1], event_type="cart", timestamp=1.78e9 + 60)])
    for model in ("hybrid", "itemknn"):
        shown = _ids(engine.recommend(user, 300, model))
        assert some[0] not in shown
        assert some[1] in shown  # carted, not bought: still eligible
        assert some[1] not in _ids(engine.recommend(user, 300, model, exclude_types=["cart", "purchase"]))
        assert some[0] in _ids(engine.recommend(user, 300, model, exclude_types=[]))


def test_hybrid_reasons_are_true_of_the_shopper_and_item(engine, small_shop):
    user = "reason-shopper"
    a, b, c = (str(i) for i in small_shop.item_ids[10:13])
    engine.ingest([Event(user_id=user, item_id=a, event_type="view", timestamp=1.78e9),
                   Event(user_id=user, item_id=b, event_type="cart", timestamp=1.78e9 + 10),
                   Event(user_id=user, item_id=c, event_type="favorite", timestamp=1.78e9 + 20)])
    titles = dict(zip(small_shop.items["item_id"], small_shop.items["title"], strict=True))
    recs = engine.recommend(user, 20, "hybrid")
    by_id = {r.item_id: r for r in recs}
    assert all(r.reason for r in recs)
    for r in recs:
        if r.reason.endswith("is in your cart"):
            assert r.item_id == b
        if r.reason.endswith("is in your favourites"):
            assert r.item_id == c
        if r.reason.startswith("because you viewed"):
            assert r.reason == f"because you viewed {titles[a]}"
        if r.reason.startswith("because you added to your cart"):
            assert r.reason.endswith(titles[b])
        assert r.sources and all(rank >= 1 for rank in r.sources.values())
    if b in by_id:
        assert by_id[b].reason == f"{titles[b]} is in your cart" or "cart" not in by_id[b].reason
    lines = engine.explain(user, recs[0].item_id, "hybrid")
    assert lines[0] == recs[0].reason and lines[1].startswith("1st in your list, placed by the hybrid")


def test_a_new_shopper_gets_popular_items_in_context_then_is_personalised(engine, small_shop):
    paths = category_paths(small_shop.items, len(small_shop.items))
    top = paths[0][0]
    recs = engine.recommend("context-shopper", 10, "hybrid", context=Context(category=top))
    ids = set(small_shop.items["item_id"])
    assert recs and all(r.source == "fallback" and r.reason == f"unknown shopper: popular in {top}" for r in recs)
    index = dict(zip(small_shop.items["item_id"], range(len(ids)), strict=True))
    assert all(paths[index[r.item_id]][0] == top for r in recs)
    engine.ingest([Event(user_id="context-shopper", item_id=str(small_shop.item_ids[7]), event_type="view",
                         timestamp=1.78e9)])
    after = engine.recommend("context-shopper", 10, "hybrid")
    assert {r.source for r in after} == {"ranked"} and {r.model for r in after} == {"hybrid"}


def test_the_exploration_slot_logs_the_propensity_it_used(engine, small_shop):
    recs = engine.recommend(str(small_shop.user_ids[1]), 8, "hybrid", explore=True)
    slot = recs[-1]
    assert slot.source == "explore" and 0 < slot.propensity <= 1
    bandit = next(iter(engine.pipeline._bandits.values()))[0]
    assert bandit.propensities().sum() == pytest.approx(1.0)
    assert [r.source for r in recs[:-1]] == ["ranked"] * 7
