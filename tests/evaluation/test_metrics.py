"""Metric definitions against hand-computed values."""

import numpy as np
import pytest
import scipy.sparse as sp

from shelfwise.evaluation.beyond import coverage, gini, intra_list_diversity, novelty
from shelfwise.evaluation.metrics import accuracy, per_user


def test_single_target_metrics():
    recs = np.array([[5, 3, 9], [1, 2, 4], [7, -1, -1]])
    truth = [np.array([3]), np.array([8]), np.array([7])]
    m = accuracy(recs, truth, ks=(1, 3))
    # user 0 hit at rank 2, user 1 miss, user 2 hit at rank 1
    assert m["hr@3"] == pytest.approx(2 / 3)
    assert m["recall@3"] == pytest.approx(2 / 3)
    assert m["precision@3"] == pytest.approx((1 / 3 + 0 + 1 / 3) / 3)
    assert m["ndcg@3"] == pytest.approx((1 / np.log2(3) + 0 + 1) / 3)
    assert m["mrr@3"] == pytest.approx((1 / 2 + 0 + 1) / 3)
    assert m["map@3"] == pytest.approx((1 / 2 + 0 + 1) / 3)
    assert m["hr@1"] == pytest.approx(1 / 3)


def test_multi_target_ndcg_map_f1():
    recs = np.array([[1, 9, 2, 8]])
    truth = [np.array([1, 2, 3])]
    u = per_user(recs, truth, 4)
    dcg = 1 + 1 / np.log2(4)
    idcg = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    assert u["ndcg"][0] == pytest.approx(dcg / idcg)
    assert u["map"][0] == pytest.approx((1 + 2 / 3) / 3)
    p, r = 2 / 4, 2 / 3
    assert u["f1"][0] == pytest.approx(2 * p * r / (p + r))
    assert u["mrr"][0] == 1.0


def test_unreachable_targets_still_count():
    recs = np.array([[1, 2]])
    truth = [np.array([-2])]  # a test item unknown to training
    assert accuracy(recs, truth, ks=(2,))["hr@2"] == 0.0
    with pytest.raises(ValueError, match="exceeds the list length"):
        accuracy(recs, truth, ks=(5,))


def test_beyond_accuracy_known_answers():
    # 4 users x 3 items; item 0 touched by all, item 1 by two, item 2 by one
    train = sp.csr_matrix(np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [1, 0, 0]], dtype=float))
    recs = np.array([[0, 1], [0, 2]])
    assert coverage(recs, 3) == 1.0
    assert novelty(recs, train) == pytest.approx(np.mean([0, 1, 0, 2]))  # -log2(4/4, 2/4, 1/4)
    assert gini(np.array([[0, 0], [0, 0]]), 2) == pytest.approx(0.5)
    # items 0 and 1: cos = 2 / (2 * sqrt2); items 0 and 2: 1 / 2
    expect = np.mean([1 - 2 / (2 * np.sqrt(2)), 1 - 1 / 2])
    assert intra_list_diversity(recs, train) == pytest.approx(expect)
