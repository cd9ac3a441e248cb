"""Reasons that are true when served: known answers on a hand-made shop.

The shop: Steel kettle (K) and Tea pot (T) are only ever viewed together (three shoppers, one
session each); Coffee mug (M) and Coffee cup (C) are bought together (two shoppers); posters
P0..P13 are bought by 2..15 shoppers each (popularity ranks 1..12 are P13..P2, then K, T and
P1 tie at 13th with 3 shoppers); New lamp (N) has no events. The live shopper viewed K three
times, carted T and viewed M, in that order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.explanations import popularity_statement, popularity_statement_for
from shelfwise.models import Recommender, create
from shelfwise.ranking.candidates import Candidates
from shelfwise.ranking.catalogue import category_paths
from shelfwise.ranking.features import Histories, build_features
from shelfwise.ranking.links import HistoryLinks
from shelfwise.ranking.model_reasons import ModelReasons
from shelfwise.ranking.reasons import Reasoner

DAY = 86400.0
POSTERS = [f"P{k}" for k in range(14)]
IDS = ["K", "T", "M", "C", "N", *POSTERS]
TITLES = ["Steel kettle", "Tea pot", "Coffee mug", "Coffee cup", "New lamp", *(f"Poster {k}" for k in range(14))]
KITCHEN = "Home > Kitchen"


@pytest.fixture(scope="module")
def shop() -> Interactions:
    rows = []
    for u in ("v1", "v2", "v3"):
        rows += [(u, "K", "view", 0.0, f"s-{u}"), (u, "T", "view", 1.0, f"s-{u}")]
    for u in ("b1", "b2"):
        rows += [(u, "M", "purchase", 0.0, f"s-{u}"), (u, "C", "purchase", 1.0, f"s-{u}")]
    for k, item in enumerate(POSTERS):
        rows += [(f"p{k}-{n}", item, "purchase", 2.0, None) for n in range(k + 2)]
    ev = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp", "session_id"])
    ev["timestamp"] *= DAY
    items = pd.DataFrame({"item_id": IDS, "title": TITLES,
                          "category": [["Home", "Kitchen"]] * 5 + [["Home", "Decor"]] * 14})
    return Interactions.from_events(ev, items=items, item_ids=np.array(IDS, dtype=object))


def idx(shop, *names):
    return [shop.item_index[n] for n in names]


def live(shop, events) -> Histories:
    """One live shopper from (item id, type) pairs, a day apart from day 100."""
    return Histories.single([shop.item_index[i] for i, _ in events], [t for _, t in events],
                            [(100 + d) * DAY for d in range(len(events))])


SHOPPER = [("K", "view"), ("K", "view"), ("K", "view"), ("T", "cart"), ("M", "view")]


def reasons(shop, model, events=SHOPPER, items=(), **kw) -> dict[str, str]:
    out = ModelReasons(model, shop, live(shop, events), **kw).of(idx(shop, *items))
    return {shop.item_ids[i]: text for i, text in out.items()}


class Constant(Recommender):
    """A model with no reasons of its own: the same score for every item."""

    name = "constant"

    def _fit(self, interactions):
        pass

    def _score(self, user_indices):
        return np.zeros((len(user_indices), self.n_items_))


def test_bought_with_comes_only_from_purchase_baskets(shop):
    rules = create("rules").fit(shop)  # min_count 2; the log has purchases: purchase baskets
    k, t = idx(shop, "K", "T")
    assert rules.similarity_[k, t] == 0  # K and T were only viewed together: no rule
    viewer = [("K", "view")]
    assert reasons(shop, rules, viewer, ["T"]) == {"T": "nothing in your history points to Tea pot"}
    assert Reasoner(shop, {"rules": rules}, live(shop, viewer)).model_statement("rules", rules, t) is None
    assert reasons(shop, rules, [("M", "view")], ["C"]) == {"C": "often bought with Coffee mug"}
    # item-kNN links K and T through the views, and says so
    assert reasons(shop, create("itemknn").fit(shop), viewer, ["T"]) == {"T": "because you viewed Steel kettle"}
    # a shop that counts views as baskets gets rules for K and T, worded as such
    mixed = create("rules", basket_types=("view", "purchase")).fit(shop)
    assert reasons(shop, mixed, viewer, ["T"]) == {"T": "often chosen together with Steel kettle"}


def test_neighbour_models_word_the_shoppers_own_events_then_the_live_anchor(shop):
    expected = {"T": "Tea pot is in your cart", "K": "you viewed Steel kettle 3 times"}
    knn = create("itemknn").fit(shop)
    assert reasons(shop, knn, items=["T", "K", "C", "P13"]) == {
        **expected, "C": "because you viewed Coffee mug", "P13": "nothing in your history points to Poster 13"}
    assert reasons(shop, create("rules").fit(shop), items=["T", "K", "C"]) == {
        **expected, "C": "often bought with Coffee mug"}
    # content: "coffee" links the cup to the mug more than the shared category to the others
    assert reasons(shop, create("content").fit(shop), items=["T", "C"]) == {
        "T": expected["T"], "C": "because you viewed Coffee mug"}
    carted = [("M", "view"), ("K", "cart")]  # the last event on the anchor names the behaviour
    assert reasons(shop, knn, carted, ["T"]) == {"T": "because you added Steel kettle to your cart"}


def test_collaborative_sequence_repeat_and_other_models(shop):
    for name, text in (("ease", "shoppers' choices link it to items you chose"),
                       ("userknn", "shoppers whose history is like yours chose it"),
                       ("als", "it fits the tastes of shoppers whose choices are like yours")):
        assert reasons(shop, create(name).fit(shop), items=["C"]) == {"C": text}
    repeat = create("repeat").fit(shop)
    assert reasons(shop, repeat, items=["T", "P13", "P2"]) == {
        "T": "Tea pot is in your cart", "P13": "one of the shop's most popular items",
        "P2": "one of the shop's 20 most popular items"}
    constant = Constant().fit(shop)
    assert reasons(shop, constant, items=["C"]) == {"C": "the constant model gives no reason for its items"}
    with pytest.raises(ValueError, match="ListReasons"):
        ModelReasons(create("hybrid"), shop, live(shop, SHOPPER))


def test_sequence_models_name_the_last_history_item(shop):
    pytest.importorskip("torch", reason="the 'sequential' extra is not installed")
    seq = create("sasrec", dim=8, layers=1, heads=1, max_len=4, max_epochs=1, refit_epochs=0,
                 batch_size=8, n_validation_users=2).fit(shop)
    assert reasons(shop, seq, items=["C", "K"]) == {
        "C": "often comes next after Coffee mug, which you viewed", "K": "you viewed Steel kettle 3 times"}
    assert reasons(shop, seq, [], ["C"]) == {"C": "the sasrec model gives no reason for its items"}


def test_popular_items_are_worded_by_their_rank_or_the_live_trend(shop):
    popular = create("popular").fit(shop)
    assert reasons(shop, popular, items=["P13", "K", "N"]) == {
        "P13": "one of the shop's most popular items", "K": "one of the shop's 20 most popular items",
        "N": "no shopper had interacted with New lamp when popularity was last counted"}
    counts = {shop.item_index["K"]: 4}
    planted = lambda items: np.array([counts.get(int(i), 0) for i in items])  # noqa: E731
    assert reasons(shop, popular, items=["P13", "K", "M"], week_counts=planted) == {
        "P13": "one of the shop's most popular items", "K": f"popular in {KITCHEN} this week (4 shoppers)",
        "M": "one of the shop's 20 most popular items"}


def test_trend_statements_come_from_live_counts_only(shop):
    k, t, m = idx(shop, "K", "T", "M")
    calls = []

    def planted(items):
        calls.append(items.tolist())
        return np.array([{k: 12, t: 1}.get(int(i), 0) for i in items])

    f = {"pop_recent": 40.0}  # the training-time count: never cited as "this week"
    assert Reasoner(shop, {}, live(shop, SHOPPER)).statement("trend", k, f) is None
    r = Reasoner(shop, {}, live(shop, SHOPPER), week_counts=planted)
    r.prefetch([k, t, m, k])
    assert [r.statement("trend", i, f) for i in (k, t, m)] == [
        f"popular in {KITCHEN} this week (12 shoppers)", f"popular in {KITCHEN} this week (1 shopper)", None]
    assert calls == [[k, t, m]]  # one call for the list
    three = Reasoner(shop, {}, live(shop, SHOPPER), week_counts=planted, window_days=3)
    assert three.statement("trend", k, f) == f"popular in {KITCHEN} in the last 3 days (12 shoppers)"


def _features(shop, hist, items, score):
    """The hybrid's feature rows {column: value} for ``items`` proposed by one retriever."""
    m = len(items)
    cands = Candidates(users=np.zeros(m, np.int64), items=np.asarray(items, np.int64),
                       scores=np.full((m, 1), score, np.float32), ranks=np.ones((m, 1), np.int32),
                       indptr=np.array([0, m], np.int64), retrievers=("itemknn",), budgets=np.array([10]))
    frame = build_features(shop, cands, histories=hist)
    return list(frame.columns), [dict(zip(frame.columns, row, strict=True)) for row in frame.to_numpy()]


def test_the_cart_statement_reads_the_last_cart_event(shop):
    k, t, m = idx(shop, "K", "T", "M")
    hist = live(shop, [("K", "view"), ("K", "cart"), ("K", "remove_from_cart"), ("T", "cart"),
                       ("M", "cart"), ("M", "purchase")])
    cols, rows = _features(shop, hist, [k, t, m], 0.5)
    assert [f["n_cart"] for f in rows] == [1, 1, 1]  # the feature counts every cart event
    r = Reasoner(shop, {"itemknn": create("itemknn").fit(shop)}, hist)
    assert [r.statement("cart", i, f) for i, f in zip((k, t, m), rows, strict=True)] == [
        None, "Tea pot is in your cart", None]
    # the ranker credits n_cart most: the reason moves on to the next true statement
    contrib = np.zeros(len(cols) + 1)
    contrib[cols.index("n_cart")], contrib[cols.index("n_view")] = 2.0, 1.0
    assert r.reason(k, rows[0], contrib, cols).text == "you viewed Steel kettle once"
    assert r.reason(t, rows[1], contrib, cols).text == "Tea pot is in your cart"
    assert ModelReasons(r.models["itemknn"], shop, hist).of([k, m]) == {
        k: "you viewed Steel kettle once", m: "you bought Coffee mug"}


def test_history_links_split_the_live_score_exactly(shop):
    hist = live(shop, SHOPPER)
    for name in ("itemknn", "rules", "content"):
        model = create(name).fit(shop)
        live_scores = model.score_histories([hist.items], [hist.types], [hist.times])[0]
        links = HistoryLinks(model, hist)
        split = np.array([links.terms(i).sum() for i in range(shop.n_items)])
        np.testing.assert_allclose(split, live_scores, rtol=1e-5, atol=1e-6, err_msg=name)


def test_explain_gives_the_live_anchors_with_their_weights(shop):
    knn = create("itemknn").fit(shop)
    k, t = idx(shop, "K", "T")
    lines = ModelReasons(knn, shop, live(shop, SHOPPER)).explain(t)
    weight = (0.7 ** 4 + 0.7 ** 3 + 0.7 ** 2) * knn.similarity_[k, t]  # K's three views, decayed
    assert lines == ["Tea pot is in your cart", f"because you viewed Steel kettle (weight {weight:.3f})"]
    # a trained shopper's live history gives the model's own explain()
    u = shop.user_index["v1"]
    hist = Histories.single(*shop.sequence(u))
    lines = ModelReasons(knn, shop, hist).explain(t)
    assert lines[1:] == [f"because you viewed Steel kettle (weight {w:.3f})" for _, w in knn.explain(u, t)]
    assert lines[0] == "you viewed Tea pot once"
    assert ModelReasons(knn, shop, hist).explain(shop.item_index["P13"]) == [
        "nothing in your history points to Poster 13"]
    popular = create("popular").fit(shop)
    p13 = shop.item_index["P13"]
    assert ModelReasons(popular, shop, hist).explain(p13) == [
        "Poster 13 is the shop's 1st most popular item (by number of shoppers)"]


def test_popularity_statement_for_maps_the_item_id_in_the_popular_models_view(shop):
    popular = create("popular").fit(shop)
    assert popularity_statement_for(popular, shop, "P13", "Poster 13") == popularity_statement(
        popular, shop.item_index["P13"], "Poster 13")
    assert popularity_statement_for(popular, shop, "K", "Steel kettle") == (
        "Steel kettle is ranked 13th of 19 items by number of shoppers, tied with 2 other items")
    assert popularity_statement_for(popular, shop, "Z9", "Garden hose") == (
        "Garden hose is not among the items the popular model counted, so it has no popularity rank")
    other = Interactions.from_events(pd.DataFrame(
        [("a", "x", "view", 0.0)], columns=["user_id", "item_id", "event_type", "timestamp"]))
    with pytest.raises(ValueError, match="not the view the model was fitted on"):
        popularity_statement_for(popular, other, "x", "x")


def test_paths_and_labels_given_by_the_caller_are_used(shop):
    labels = np.array([f"#{j}" for j in range(shop.n_items)], dtype=object)
    paths = category_paths(shop.items, shop.n_items)
    knn = create("itemknn").fit(shop)
    out = ModelReasons(knn, shop, live(shop, SHOPPER), paths, labels).of(idx(shop, "C"))
    assert out == {shop.item_index["C"]: f"because you viewed #{shop.item_index['M']}"}


def test_hybrid_list_reasons_use_live_counts_and_the_live_cart(small_shop):
    pytest.importorskip("lightgbm", reason="the 'ranking' extra is not installed")
    from shelfwise.ranking.reasons import ListReasons

    view = Interactions.from_events(small_shop.events, items=small_shop.items)
    rec = create("hybrid", retrievers=[["itemknn", 20], ["rules", 10], ["popular", 10]],
                 fusion="weighted").fit(view)
    items, types, times = view.sequence(0)
    first = rec.rank_history(items, types.tolist(), times, 20, exclude_types=["purchase"])
    top, second = int(first.items[0]), int(first.items[1])  # the popular retriever's: history-free
    # the top item is carted and taken out again; the second stays in the cart
    items = np.r_[items, top, top, second]
    types = [*types.tolist(), "cart", "remove_from_cart", "cart"]
    times = np.r_[times, times[-1] + np.arange(1, 4)]
    hist = Histories.single(items, types, times)
    ranked = rec.rank_history(items, types, times, 20, exclude_types=["purchase"])
    assert {top, second} <= set(ranked.items.tolist())
    paths = category_paths(view.items, view.n_items)
    labels = np.array([f"item {j}" for j in range(view.n_items)], dtype=object)
    plain = ListReasons(rec, view, hist, ranked, paths, labels)
    texts = plain.of(ranked.items.tolist())
    assert len(texts) == len(ranked.items) and all(texts.values())
    assert not any("this week" in text or text.startswith("popular") for text in texts.values())
    assert texts[top] != f"item {top} is in your cart"
    assert plain.reasoner.statement("cart", top, {}) is None
    assert plain.reasoner.statement("cart", second, {}) == f"item {second} is in your cart"
    calls = []

    def planted(asked):
        calls.append(len(asked))
        return np.full(len(asked), 5)

    counted = ListReasons(rec, view, hist, ranked, paths, labels, week_counts=planted)
    texts = counted.of(ranked.items.tolist())
    assert calls == [len(ranked.items)]  # one live count call for the list shown
    assert all(t.endswith("this week (5 shoppers)") for t in texts.values() if t.startswith("popular"))
    cat = " > ".join(paths[top])
    assert counted.reasoner.statement("trend", top, {}) == f"popular in {cat} this week (5 shoppers)"
