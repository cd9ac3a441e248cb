"""ALS learned on Spark: MLlib's implicit-feedback ALS (Hu, Koren & Volinsky 2008, the
block-partitioned solver of ``pyspark.ml.recommendation.ALS``) fills the same
``user_factors_`` / ``item_factors_`` as ``ALS.fit`` with ``implicit``.

The two solvers differ in two ways a shop's parameters carry over: MLlib's confidence is
``1 + alpha * w`` (``implicit``'s is ``alpha * w``), and MLlib scales the L2 penalty of each
row by its number of ratings (ALS-WR, Zhou et al. 2008). ``regularization`` is therefore
divided by the mean number of ratings per shopper before it is passed on, so that an average
shopper gets the penalty the single-process model gives every shopper. Rows no rating
reaches (shoppers or items without a positive weight) get zero factors, as in ``implicit``.
"""

from __future__ import annotations

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.models.factor import ALS
from shelfwise.models.spark.export import read_result


def mllib_regularization(model: ALS, view: Interactions) -> float:
    """MLlib's ``regParam`` for the model's ``regularization``: over ratings per shopper."""
    rated = np.count_nonzero(np.diff(view.matrix.indptr))
    return float(model.regularization) * max(rated, 1) / max(view.matrix.nnz, 1)


def fit_als(model: ALS, view: Interactions, frames, out: str) -> None:
    """Set ``user_factors_`` (n_users, factors) and ``item_factors_`` (n_items, factors)."""
    from pyspark.ml.recommendation import ALS as SparkALS
    from pyspark.sql import functions as F

    value = F.lit(1.0) if model.binary else F.col("weight").cast("double")
    ratings = frames.ratings.select("user", "item", value.alias("rating"))
    partitions = int(frames.spark.conf.get("spark.sql.shuffle.partitions"))
    als = SparkALS(rank=model.factors, maxIter=model.iterations, regParam=mllib_regularization(model, view),
                   alpha=float(model.alpha), implicitPrefs=True, seed=model.random_state,
                   userCol="user", itemCol="item", ratingCol="rating", nonnegative=False,
                   numUserBlocks=partitions, numItemBlocks=partitions)
    fitted = als.fit(ratings)
    shapes = {"users": (fitted.userFactors, view.n_users), "items": (fitted.itemFactors, view.n_items)}
    factors = {}
    for name, (frame, rows) in shapes.items():
        frame.write.mode("overwrite").parquet(f"{out}/{name}")
        got = read_result(f"{out}/{name}")
        matrix = np.zeros((rows, model.factors), np.float32)
        if len(got["id"]):
            matrix[got["id"]] = got["features"]
        factors[name] = matrix
    model.user_factors_, model.item_factors_ = factors["users"], factors["items"]
    model._build_ann()  # fit() builds it after the in-process fit; this trainer bypasses fit()
