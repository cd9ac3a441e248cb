"""MostPopular learned on Spark: the same ``popularity_`` as ``MostPopular.fit``.

- ``count="users"``: distinct shoppers per item among the matrix's cells (the ``ratings``
  dataset); with a half-life each cell is weighted by the decay of the shopper's latest event
  on the item, age measured from the newest event in the view.
- ``count="weighted"``: every event by its behaviour weight, decayed by its own age.
"""

from __future__ import annotations

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.models.popular import MostPopular
from shelfwise.models.spark.export import read_result


def fit_popular(model: MostPopular, view: Interactions, frames, out: str) -> None:
    """Set ``model.popularity_`` (n_items,) float32 from a Spark aggregation."""
    from pyspark.sql import functions as F

    events, ratings = frames.events, frames.ratings
    half_life = model.half_life_days
    newest = float(view.seq_times.max()) if view.n_events else 0.0

    def decay(time_col):
        return F.pow(F.lit(0.5), (F.lit(newest) - time_col) / F.lit(86400.0) / F.lit(half_life))

    if model.count == "users" and half_life is None:
        per_item = ratings.groupBy("item").agg(F.count(F.lit(1)).cast("double").alias("pop"))
    elif model.count == "users":
        latest = events.groupBy("user", "item").agg(F.max("time").alias("time"))
        per_item = (ratings.select("user", "item").join(latest, ["user", "item"])
                    .groupBy("item").agg(F.sum(decay(F.col("time"))).alias("pop")))
    else:
        type_w = F.element_at(F.array(*[F.lit(float(view.weights.get(t, 0.0))) for t in EVENT_TYPES]),
                              F.col("type").cast("int") + 1)
        w = type_w * decay(F.col("time")) if half_life is not None else type_w
        per_item = events.groupBy("item").agg(F.sum(w).alias("pop"))
    per_item.write.mode("overwrite").parquet(out)
    got = read_result(out)
    pop = np.zeros(view.n_items, np.float64)
    pop[got["item"]] = got["pop"]
    model.popularity_ = pop.astype(np.float32)
