"""The Recommender contract suite, run on the models Spark trained: the same assertions as
tests/models/test_contract.py (imported from it), on the same checkerboard."""

from __future__ import annotations

import numpy as np
import pytest

from shelfwise.models import create
from shelfwise.models.spark import SPARK_MODELS
from tests.models.test_contract import (  # noqa: F401 (collected here, run on Spark-trained models)
    PARAMS,
    test_batch_equals_one_user_at_a_time,
    test_candidates_restrict_the_list,
    test_recommend_shapes_order_and_padding,
    test_save_load_round_trip_gives_identical_scores,
    test_seen_items_are_excluded_unless_asked,
    test_similar_items_only_where_declared,
    test_unknown_users_are_an_index_error,
)

_FITTED: dict = {}
# MLlib solves each ALS step exactly (implicit's conjugate gradient takes 3 steps): 5 sweeps
# reach the checkerboard's structure, and each sweep is a few Spark jobs
SPARK_PARAMS = {**PARAMS, "als": {**PARAMS["als"], "iterations": 5}}


def spark_fitted(name, trainer, board):
    if name not in _FITTED:
        _FITTED[name] = trainer.fit(create(name, **SPARK_PARAMS[name]), board)
    return _FITTED[name]


@pytest.fixture(params=sorted(SPARK_MODELS))
def fitted(request, trainer, board):
    return spark_fitted(request.param, trainer, board)


def test_spark_fit_returns_the_same_class_with_its_parameters(trainer, board):
    for name in sorted(SPARK_MODELS):
        model = spark_fitted(name, trainer, board)
        assert type(model) is type(create(name))
        assert model.get_params() == create(name, **SPARK_PARAMS[name]).get_params()
        assert model.n_users_ == 20 and model.n_items_ == 20


@pytest.mark.parametrize("name", ["itemknn", "rules", "als"])
def test_spark_models_recover_the_withheld_diagonal(name, trainer, board):
    items, _ = spark_fitted(name, trainer, board).recommend(np.arange(20), n=1)
    assert (items[:, 0] == np.arange(20)).all()  # the only unseen item of the user's parity


def test_spark_popular_counts_the_checkerboard(trainer, board):
    # known answer: item i is liked by the 10 users of its parity, less the withheld (i, i)
    np.testing.assert_array_equal(spark_fitted("popular", trainer, board).popularity_, np.full(20, 9.0))


def test_rule_pair_counts_equal_fpgrowth_frequent_pairs(trainer, board):
    """MLlib's FPGrowth, mining the same user baskets, finds the same pair counts as the rules."""
    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import functions as F

    rules = spark_fitted("rules", trainer, board)  # min_count 1, one basket per user
    baskets = trainer.spark.createDataFrame(
        [(u, [int(i) for i in board.binary[u].indices]) for u in range(20)], "user int, items array<int>")
    itemsets = FPGrowth(itemsCol="items", minSupport=1 / 20).fit(baskets).freqItemsets
    pairs = itemsets.where(F.size("items") == 2).collect()
    counts = {tuple(sorted(r["items"])): r["freq"] for r in pairs}
    stats = rules.rule_stats_.tocoo()
    mined = {(int(i), int(j)): int(c) for i, j, c in zip(stats.row, stats.col, stats.data, strict=True) if i < j}
    assert counts == mined and len(counts) == 2 * 45  # every pair within a parity class
