"""Item co-occurrence learned on Spark: ItemKNN's similarity and AssociationRules' rules, the
same matrices ``ItemKNN.fit`` and ``AssociationRules.fit`` build.

Both are a self-join of the shopper (or basket) x item cells on the shopper, summed per item
pair: the work grows with the sum of squared history lengths, spread over the executors,
never as a dense item x item product. Each row keeps its top ``k`` by score, ties to the
lower item index, as ``keep_top_k_per_row``.

The similarity arithmetic is done in float32 where the single-process models use float32
(Spark keeps FloatType through ``*`` and ``+``; a float division or square root done in double
and rounded once to float32 is the correctly rounded float32 result), so the binary cosine
ItemKNN (the default) and the rules equal the single-process matrices exactly; BM25 or
summed weights differ by float summation order only.

Why not MLlib's FPGrowth for the rules: it mines frequent itemsets of every length, and a
rule here is one item pair. At the model's ``min_count`` (2 baskets by default) two
shoppers sharing 30 items already make 2**30 frequent itemsets; counting pairs is bounded by
the baskets' squared sizes. The pair counts equal FPGrowth's frequent 2-itemsets (the tests
check this on small data).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shelfwise.data.interactions import TYPE_CODES, Interactions
from shelfwise.models.knn import ItemKNN
from shelfwise.models.profiles import user_profiles
from shelfwise.models.rules import AssociationRules
from shelfwise.models.spark.export import read_result


def _top_k(pairs, score: str, k: int):
    """Rows (i, j, score) keeping each i's ``k`` best, ties to the lower j."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rank = F.row_number().over(Window.partitionBy("i").orderBy(F.col(score).desc(), F.col("j").asc()))
    return pairs.withColumn("rank", rank).where(F.col("rank") <= k).drop("rank")


def _csr(path: str, value: str, n_items: int) -> sp.csr_matrix:
    got = read_result(path)
    return sp.csr_matrix((got[value].astype(np.float32), (got["i"], got["j"])),
                         shape=(n_items, n_items), dtype=np.float32)


def _pair_sums(cells, value: str):
    """(i, j, dot) = sum over shared keys of cells.value_i * cells.value_j, i != j; cells has
    columns (key, item, value) with one row per (key, item)."""
    from pyspark.sql import functions as F

    a = cells.select(F.col("key"), F.col("item").alias("i"), F.col(value).alias("vi"))
    b = cells.select(F.col("key"), F.col("item").alias("j"), F.col(value).alias("vj"))
    return (a.join(b, "key").where(F.col("i") != F.col("j"))
            .groupBy("i", "j").agg(F.sum(F.col("vi") * F.col("vj")).alias("dot")))


def fit_itemknn(model: ItemKNN, view: Interactions, frames, out: str) -> None:
    """Set ``similarity_`` (n_items, n_items) csr and ``profiles_`` as ``ItemKNN.fit``."""
    from pyspark.sql import functions as F

    f32 = "float"
    x = frames.ratings.select(F.col("user").alias("key"), "item",
                              (F.lit(1.0) if model.binary else F.col("weight")).cast(f32).alias("x"))
    if model.weighting == "bm25":
        x = _bm25(x, view.n_users)
    norms = x.groupBy("item").agg(F.sqrt(F.sum(F.col("x") * F.col("x"))).cast(f32).alias("norm"))
    dots = _pair_sums(x, "x").withColumn("dot", F.col("dot").cast(f32))
    sims = (dots.join(norms.select(F.col("item").alias("i"), F.col("norm").alias("ni")), "i")
            .join(norms.select(F.col("item").alias("j"), F.col("norm").alias("nj")), "j"))
    denom = F.greatest(F.col("ni") * F.col("nj") + F.lit(float(model.shrink)).cast(f32), F.lit(1e-12).cast(f32))
    sims = sims.select("i", "j", (F.col("dot") / denom).cast(f32).alias("sim"))
    _top_k(sims, "sim", model.k).write.mode("overwrite").parquet(out)
    model.similarity_ = _csr(out, "sim", view.n_items)
    model.profiles_ = user_profiles(view, model.recency_decay)


def _bm25(x, n_users: int, k1: float = 1.2, b: float = 0.75):
    """``knn.bm25_weight`` on the (key=user, item, x) cells."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    idf = x.groupBy("item").agg(F.log(F.lit(float(n_users)) / (F.count(F.lit(1)) + 1.0)).alias("idf"))
    rows = x.groupBy("key").agg(F.sum("x").alias("row_sum"))
    mean = F.sum("row_sum").over(Window.partitionBy()) / F.lit(float(n_users))
    rows = rows.select("key", ((1.0 - b) + b * F.col("row_sum") / mean).alias("norm"))
    value = F.col("x") * (k1 + 1.0) / (k1 * F.col("norm") + F.col("x")) * F.col("idf")
    return x.join(rows, "key").join(idf, "item").select("key", "item", value.cast("float").alias("x"))


def _mine(model: AssociationRules, frames, types: tuple[str, ...], out: str, n_items: int):
    """(rule_stats csr, basket counts (n_items,), n_baskets, rules csr) from baskets of ``types``."""
    from pyspark.sql import functions as F

    events = frames.events.where(F.col("type").isin([TYPE_CODES[t] for t in types]))
    session = F.col("session") if model.use_sessions else F.lit(-1).cast("long")
    # one basket per (shopper, session), a shopper's events without a session in one more
    baskets = (events.select(F.col("user"), F.when(session >= 0, session).otherwise(-1).alias("s"), "item")
               .distinct().select(F.struct("user", "s").alias("key"), "item", F.lit(1).alias("one")).cache())
    n_baskets = max(baskets.select("key").distinct().count(), 1)
    item_count = baskets.groupBy("item").agg(F.count(F.lit(1)).alias("n"))
    pairs = (_pair_sums(baskets, "one").withColumnRenamed("dot", "c").where(F.col("c") >= model.min_count)
             .join(item_count.select(F.col("item").alias("i"), F.col("n").alias("ci")), "i")
             .join(item_count.select(F.col("item").alias("j"), F.col("n").alias("cj")), "j"))
    confidence = F.col("c").cast("double") / F.col("ci").cast("double")
    # as numpy does it: the consequent's share in float32, then confidence over it in double
    share = (F.col("cj").cast("float") / F.lit(float(n_baskets)).cast("float")).cast("float")
    lift = confidence / share.cast("double")
    pairs = (pairs.select("i", "j", "c", confidence.alias("confidence"), lift.alias("lift"))
             .where(F.col("confidence") >= model.min_confidence)
             .withColumn("value", F.col(model.metric).cast("float")).cache())
    pairs.select("i", "j", "c").write.mode("overwrite").parquet(f"{out}/stats")
    _top_k(pairs.select("i", "j", "value"), "value", model.max_rules).write.mode("overwrite").parquet(f"{out}/rules")
    item_count.write.mode("overwrite").parquet(f"{out}/items")
    pairs.unpersist()
    baskets.unpersist()
    counts = read_result(f"{out}/items")
    basket_count = np.zeros(n_items, np.float32)
    basket_count[counts["item"]] = counts["n"]
    return _csr(f"{out}/stats", "c", n_items), basket_count, n_baskets, _csr(f"{out}/rules", "value", n_items)


def fit_rules(model: AssociationRules, view: Interactions, frames, out: str) -> None:
    """Set the rules and their statistics as ``AssociationRules.fit``, with the same fallback
    to baskets of every behaviour when purchase baskets give no rule."""
    model.basket_types_ = model._basket_types(view)
    mined = _mine(model, frames, model.basket_types_, out, view.n_items)
    if mined[3].nnz == 0 and model.basket_types == "auto" and model.basket_types_ == ("purchase",):
        model.basket_types_ = model._basket_types(view, everything=True)
        mined = _mine(model, frames, model.basket_types_, out, view.n_items)
    model.rule_stats_, model.basket_count_, model.n_baskets_, model.similarity_ = mined
    model.profiles_ = user_profiles(view, model.recency_decay)
