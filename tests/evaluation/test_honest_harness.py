"""Known answers for the harness: relevant items unknown to training, cold-start users and
what the cost columns measure."""

import numpy as np
import pandas as pd
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.evaluation.harness import evaluate_models, results_frame, truth_from
from shelfwise.models import create


def _events(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])


# train popularity (distinct users): y 3, x 2, w 2, z 1; item indices x0 y1 z2 w3
TRAIN = _events([("a", "x", "view", 1), ("b", "y", "view", 2), ("b", "z", "view", 3),
                 ("c", "y", "view", 4), ("c", "x", "view", 5), ("d", "y", "view", 6),
                 ("d", "w", "view", 7), ("e", "w", "view", 8)])


def test_each_distinct_unknown_test_item_counts_once():
    train = Interactions.from_events(TRAIN)
    # a: y (known) and two items training never saw, one of them twice
    test = _events([("a", "y", "view", 9), ("a", "new1", "view", 10),
                    ("a", "new2", "view", 11), ("a", "new1", "purchase", 12)])
    users, truth = truth_from(test, train)
    assert users.tolist() == [0] and len(truth[0]) == 3
    metrics = evaluate_models({"popular": create("popular")}, train, test)[0].metrics
    # popular ranks y first for a (x is seen): one hit at rank 1 out of 3 relevant items
    idcg3 = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert metrics["recall@10"] == pytest.approx(1 / 3)
    assert metrics["ndcg@10"] == pytest.approx(1 / idcg3)
    assert metrics["map@10"] == pytest.approx(1 / 3)
    assert metrics["precision@5"] == pytest.approx(1 / 5)


def test_cold_start_test_users_are_scored_with_the_popularity_fallback():
    train = Interactions.from_events(TRAIN)
    # a (known) wants y: popular's 1st for a; "new" (unknown) wants z: 4th of the shop
    test = _events([("a", "y", "view", 9), ("new", "z", "view", 10)])
    result = evaluate_models({"itemknn": create("itemknn"), "popular": create("popular")},
                             train, test)
    frame = results_frame(result)
    assert (frame["cold_users"] == 1).all() and (frame["test_users"] == 2).all()
    pop = frame.loc["popular"]
    assert pop["hr@10"] == pytest.approx(1.0)
    assert pop["ndcg@10"] == pytest.approx((1 + 1 / np.log2(5)) / 2)
    assert pop["mrr@10"] == pytest.approx((1 + 1 / 4) / 2)
    # whatever the model, the new shopper gets the fallback list: y, x, w, z
    assert result[0].recs[-1, :4].tolist() == [1, 0, 3, 2]


def test_cold_users_can_be_left_out_on_request():
    train = Interactions.from_events(TRAIN)
    test = _events([("a", "y", "view", 9), ("new", "z", "view", 10)])
    r = evaluate_models({"popular": create("popular")}, train, test, cold_start=False)[0]
    assert r.n_cold == 0 and r.metrics["ndcg@10"] == pytest.approx(1.0)


def test_latency_is_per_single_call_and_throughput_is_named_as_such(small_shop):
    from shelfwise.data.splits import leave_one_out

    split = leave_one_out(small_shop.events, by="item")
    train = Interactions.from_events(split.train)
    r = evaluate_models({"itemknn": create("itemknn")}, train, split.test)[0]
    frame = results_frame([r])
    assert "latency_ms" not in frame
    assert {"ms_per_user_batch", "latency_p50_ms", "latency_p99_ms"} <= set(frame)
    assert r.latency_calls == 200  # bounded sample of the 400 test users
    assert 0 < r.latency_p50_ms <= r.latency_p99_ms
    # one call for one shopper costs more than that shopper's share of a batch call
    assert r.latency_p50_ms > r.ms_per_user_batch > 0
