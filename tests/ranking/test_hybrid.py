"""The hybrid recommender: its leak-free protocol, fusions, live path and persistence."""

from __future__ import annotations

import numpy as np
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.data.splits import leave_one_out
from shelfwise.models import Recommender, create
from shelfwise.ranking.fusion import LambdaRankFusion, WeightedFusion, ndcg_at
from shelfwise.ranking.holdout import holdout
from tests.ranking.conftest import build

pytest.importorskip("lightgbm", reason="the 'ranking' extra is not installed")
FAST = {"retrievers": [["itemknn", 30], ["ease", 30], ["rules", 20], ["popular", 20]]}


def test_holdout_takes_each_last_purchase_and_drops_what_follows():
    rows = [("u1", "A", "view", 0), ("u1", "B", "purchase", 1), ("u1", "C", "view", 2),
            ("u1", "D", "purchase", 3), ("u1", "E", "view", 4),
            ("u2", "A", "purchase", 0),  # nothing before it: not a validation shopper
            ("u3", "B", "view", 1), ("u3", "C", "view", 2),  # no purchase
            ("u4", "A", "purchase", 5), ("u4", "B", "purchase", 5)]  # same time: B is last
    view = build(rows, list("ABCDE"), ["u1", "u2", "u3", "u4"])
    events, users, targets = holdout(view)
    assert view.user_ids[users].tolist() == ["u1", "u4"]
    assert view.item_ids[targets].tolist() == ["D", "B"]
    kept = sorted(zip(events["user_id"], events["item_id"], strict=True))
    assert kept == [("u1", "A"), ("u1", "B"), ("u1", "C"), ("u2", "A"), ("u3", "B"), ("u3", "C"),
                    ("u4", "A")]


@pytest.fixture(scope="module")
def split(small_shop):
    s = leave_one_out(small_shop.events)
    return s, Interactions.from_events(s.train, items=small_shop.items)


@pytest.fixture(scope="module")
def hybrid(split):
    return create("hybrid", **FAST).fit(split[1])


def test_no_test_target_reaches_the_ranker(split, hybrid):
    s, train = split
    # every pair the ranker learned from is a training shopper's held-out last purchase of
    # the TRAIN part: an event of the train part, earlier than that shopper's test event
    _, users, targets = holdout(train)
    held = dict(zip(users.tolist(), targets.tolist(), strict=True))
    learned = hybrid.training_targets_
    assert len(learned) > 50
    assert all(held[u] == i for u, i in learned.tolist())
    test_time = dict(zip(train.users_to_indices(s.test["user_id"]).tolist(),
                         s.test["timestamp"].astype(float).tolist(), strict=True))
    for u, i in learned.tolist():
        items, types, times = train.sequence(u)
        bought_at = times[(items == i) & (types == 5)]
        assert len(bought_at) and bought_at.max() <= test_time[u]
    # the stage-1 retrievers never saw a held-out target event, nor anything after it
    stage1, _, _ = holdout(train)
    for u, i in learned.tolist()[:100]:
        items, types, times = train.sequence(u)
        cut = times[(items == i) & (types == 5)].max()
        rows = stage1[stage1["user_id"] == train.user_ids[u]]
        assert (rows["timestamp"] <= cut).all()
        assert len(rows) < len(items)


def test_fusion_beats_or_matches_its_best_retriever_on_the_held_out_part(split, hybrid, small_shop):
    from shelfwise.evaluation.harness import score_lists, truth_from

    s, train = split
    users, truth = truth_from(s.test, train)
    fused = score_lists(hybrid.recommend(users, 10)[0], truth, train, ks=(10,))["ndcg@10"]
    singles = {name: score_lists(m.recommend(users, 10)[0], truth, train, ks=(10,))["ndcg@10"]
               for name, m, _ in hybrid.retrievers_}
    assert fused >= 0.9 * max(singles.values()), (fused, singles)


def test_live_ranking_equals_batch_ranking_for_exact_live_retrievers(split, hybrid):
    _, train = split
    for u in (0, 17, 101):
        items, types, times = train.sequence(u)
        names = [("view", "click", "favorite", "cart", "remove_from_cart", "purchase", "review",
                  "search")[t] for t in types]
        live = hybrid.rank_history(items, names, times, 10, user_index=u)
        batch_items, batch_scores = hybrid.recommend([u], 10)
        assert live.items.tolist() == batch_items[0].tolist()
        np.testing.assert_allclose(live.scores, batch_scores[0], rtol=1e-5, atol=1e-5)


def test_contributions_sum_to_the_fused_scores(split, hybrid):
    _, train = split
    items, _, times = train.sequence(5)
    ranked = hybrid.rank_history(items, ["view"] * len(items), times, 10, user_index=5)
    for model in (hybrid, hybrid.with_fusion("weighted")):
        r = model.rank_history(items, ["view"] * len(items), times, 10, user_index=5)
        contrib = model.contributions(r)
        np.testing.assert_allclose(contrib.sum(axis=1), r.scores, rtol=1e-4, atol=1e-4)
    assert hybrid.with_fusion("mlp").contributions(ranked) is None  # the MLP gives none


def test_save_and_load_serve_the_same_lists(split, hybrid, tmp_path):
    hybrid.save(tmp_path / "h")
    back = Recommender.load(tmp_path / "h")
    users = np.arange(0, split[1].n_users, 13)
    a, b = hybrid.recommend(users, 10), back.recommend(users, 10)
    assert (a[0] == b[0]).all()
    np.testing.assert_allclose(a[1], b[1], rtol=1e-6)


def test_purchased_items_are_excluded_and_carted_ones_stay_eligible(split, hybrid):
    _, train = split
    users = np.arange(train.n_users)
    lists = hybrid.recommend(users, 20)[0]
    carted_shown = 0
    for u in users:
        items, types, _ = train.sequence(u)
        bought = set(items[types == 5].tolist()) - set(np.flatnonzero(
            hybrid.intervals_ < np.inf).tolist())
        assert not bought & set(lists[u].tolist())
        carted_shown += len((set(items[types == 3].tolist()) - set(items[types == 5].tolist()))
                            & set(lists[u].tolist()))
    assert carted_shown > 0  # carts lead to purchases in this shop, and the ranker learned it


def test_weighted_fusion_puts_its_weight_on_the_informative_score():
    rng = np.random.default_rng(0)
    groups = np.full(200, 20)
    y = np.zeros(4000, np.float32)
    y[np.arange(200) * 20 + rng.integers(0, 20, 200)] = 1
    X = np.c_[y + 0.1 * rng.random(4000), rng.random(4000)].astype(np.float32)
    f = WeightedFusion(["norm:good", "norm:noise"]).fit(X, y, groups)
    assert f.validation_ndcg_ == pytest.approx(1.0)
    assert ndcg_at(f.predict(X), y, groups) == pytest.approx(1.0)
    assert f.weights_[0] > f.weights_[1]
    ranker = LambdaRankFusion(["norm:good", "norm:noise"]).fit(X, y, groups)
    assert ndcg_at(ranker.predict(X), y, groups) > 0.95


def test_ndcg_at_known_values():
    scores = np.array([3.0, 2.0, 1.0, 5.0, 4.0])
    labels = np.array([0, 1, 0, 0, 1])
    # group 1: positive second -> 1/log2(3); group 2: positive second -> 1/log2(3)
    assert ndcg_at(scores, labels, np.array([3, 2])) == pytest.approx(1 / np.log2(3))


def test_an_untouched_item_like_the_shoppers_own_takes_the_new_item_slot(split):
    """A catalogue row nobody has touched yet, a copy of an item the shopper bought: the
    ranker puts it low, and the slot moves it to position 3, the rest keeping their order."""
    s, train = split
    user = 0
    original = train.items.iloc[int(train.sequence(user)[0][-1])].copy()
    original["item_id"] = "NEW"
    catalogue = train.items.reset_index(drop=True)
    catalogue.loc[len(catalogue)] = original
    view = Interactions.from_events(s.train, items=catalogue)
    new = int(view.items_to_indices(["NEW"])[0])
    assert view.item_popularity()[new] == 0
    params = {"retrievers": [["itemknn", 30], ["content", 30], ["popular", 20]], "new_item_position": 3}
    hybrid = create("hybrid", **params).fit(view)
    with_slot = hybrid.recommend(np.array([user]), n=10)[0][0].tolist()
    live = hybrid.rank_history(*view.sequence(user), n=10, user_index=user).items.tolist()
    hybrid.new_item_position = None
    without = hybrid.recommend(np.array([user]), n=10)[0][0].tolist()
    assert new not in without[:3]  # the ranker alone does not show it early
    assert with_slot == [*without[:2], new, *[i for i in without[2:] if i != new]][:10]
    assert live.index(new) == 2
