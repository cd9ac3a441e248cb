"""Spark learns what one process learns: popularity and co-occurrence (item-kNN, rules)
equal the single-process models exactly on a slice of real data (Amazon Grocery) and on the
synthetic shop (sessions, every behaviour); Spark ALS ranks as well as implicit's ALS."""

from __future__ import annotations

import numpy as np
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_amazon_grocery
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.harness import score_lists, truth_from
from shelfwise.models import create


@pytest.fixture(scope="module")
def grocery(data_dir):
    """The first 600 shoppers of Amazon Grocery (purchases, no sessions), as one view: Spark
    reads its Parquet export once for every test here."""
    events = load_amazon_grocery(data_dir / "amazon-grocery").events
    return Interactions.from_events(events[events["user_id"].isin(events["user_id"].drop_duplicates().iloc[:600])])


def _same_matrix(a, b) -> None:
    a, b = a.tocsr(), b.tocsr()
    a.sort_indices()
    b.sort_indices()
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("params", [{}, {"half_life_days": 30.0}, {"count": "weighted", "half_life_days": 7.0}])
def test_popularity_equals_one_process(trainer, grocery, params):
    view = grocery
    local = create("popular", **params).fit(view)
    spark = trainer.fit(create("popular", **params), view)
    np.testing.assert_array_equal(spark.popularity_, local.popularity_)


def test_itemknn_and_rules_equal_one_process_on_grocery(trainer, grocery):
    view = grocery
    users = np.arange(view.n_users)
    for name in ("itemknn", "rules"):
        local, spark = create(name).fit(view), trainer.fit(create(name), view)
        assert local.similarity_.nnz > 1000
        _same_matrix(spark.similarity_, local.similarity_)
        _same_matrix(spark.profiles_, local.profiles_)
        np.testing.assert_array_equal(spark.recommend(users, 10)[0], local.recommend(users, 10)[0])
    assert spark.basket_types_ == local.basket_types_ == ("purchase",)
    _same_matrix(spark.rule_stats_, local.rule_stats_)
    np.testing.assert_array_equal(spark.basket_count_, local.basket_count_)
    assert spark.n_baskets_ == local.n_baskets_ == view.n_users  # one basket per shopper: no sessions


def test_session_baskets_and_bm25_on_the_synthetic_shop(trainer, small_shop):
    view = Interactions.from_events(small_shop.events)
    # rules from purchase baskets, one per session, ranked by lift
    params = {"metric": "lift", "max_rules": 5, "min_count": 1}
    local, spark = create("rules", **params).fit(view), trainer.fit(create("rules", **params), view)
    assert local.n_baskets_ > view.n_users  # sessions, not shoppers
    assert (spark.n_baskets_, spark.basket_types_) == (local.n_baskets_, local.basket_types_)
    _same_matrix(spark.similarity_, local.similarity_)
    _same_matrix(spark.rule_stats_, local.rule_stats_)
    # BM25 on summed weights: float32 sums in another order, the same neighbours
    params = {"weighting": "bm25", "binary": False, "k": 20}
    local, spark = create("itemknn", **params).fit(view), trainer.fit(create("itemknn", **params), view)
    a, b = local.similarity_.tocsr(), spark.similarity_.tocsr()
    assert a.nnz == b.nnz and abs(a - b).max() < 1e-5
    users = np.arange(view.n_users)
    assert (spark.recommend(users, 10)[0] == local.recommend(users, 10)[0]).mean() > 0.99


def test_spark_als_ranks_within_tolerance_of_implicit(trainer, data_dir):
    """Leave-one-out NDCG@10 on 3,000 Grocery shoppers: Spark ALS within 15% (relative) of
    implicit's ALS with the same parameters (measured: 0.0224 against 0.0233), and both above
    popularity (0.0158). On 3,000 shoppers one NDCG@10 has a standard error near 10% of its
    value; benchmarks/spark.py compares the full datasets, where the bar is 3%."""
    events = load_amazon_grocery(data_dir / "amazon-grocery").events
    events = events[events["user_id"].isin(events["user_id"].drop_duplicates().iloc[:3000])]
    split = leave_one_out(events)
    train = Interactions.from_events(split.train)
    users, truth = truth_from(split.test, train)
    params = {"factors": 32, "iterations": 10}
    ndcg = {}
    for engine, model in (("popular", create("popular").fit(train)),
                          ("local", create("als", **params).fit(train)),
                          ("spark", trainer.fit(create("als", **params), train))):
        ndcg[engine] = score_lists(model.recommend(users, 10)[0], truth, train, ks=(10,))["ndcg@10"]
    assert ndcg["local"] > ndcg["popular"] and ndcg["spark"] > ndcg["popular"], ndcg
    assert abs(ndcg["spark"] - ndcg["local"]) <= 0.15 * ndcg["local"], ndcg
