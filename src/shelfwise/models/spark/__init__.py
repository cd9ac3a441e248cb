"""Training on Spark: the same models, fitted by a Spark job instead of in this process.

``SparkTrainer.fit(model, view)`` exports the training view as partitioned Parquet (once per
view), lets Spark compute what the model learns, reads the result back and sets it on the
model: the returned object is the same class with the same learned attributes, saved and
served like one fitted in-process, so serving cannot tell which engine trained it.

On Spark (``SPARK_MODELS``): ``popular`` (counts per item), ``itemknn`` and ``rules`` (item
co-occurrence: the item x item matrix, top-k per row) and ``als`` (MLlib ALS). The
per-shopper state serving reads (seen items, recency-weighted profiles) is built from the view
on the driver, as ``fit`` builds it: it is linear in the events. Other models have no Spark
trainer here and fit in-process (``can_fit`` says which).

    with SparkTrainer("local[2]", work_dir) as trainer:
        model = trainer.fit(create("itemknn"), view)
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shelfwise.data.interactions import Interactions
from shelfwise.models.base import Recommender


def _trainers() -> dict[str, Callable]:
    from shelfwise.models.spark.als import fit_als
    from shelfwise.models.spark.cooccurrence import fit_itemknn, fit_rules
    from shelfwise.models.spark.popular import fit_popular

    return {"popular": fit_popular, "itemknn": fit_itemknn, "rules": fit_rules, "als": fit_als}


#: registry names of the models with a Spark trainer
SPARK_MODELS = frozenset({"popular", "itemknn", "rules", "als"})


@dataclass
class Frames:
    """The exported view as Spark DataFrames (``export.export_view`` describes the columns)."""

    spark: Any
    events: Any
    ratings: Any


class SparkTrainer:
    """Fits models on a Spark session; a context manager that stops the session and deletes
    the run's Parquet (a copy of shoppers' events) on exit.

    master: Spark master URL ("local[2]", "spark://host:7077", ...). work_dir: where the run's
    Parquet goes, reachable by every executor on a cluster (default: a temporary folder).
    """

    def __init__(self, master: str = "local[2]", work_dir: str | Path | None = None,
                 driver_memory: str = "2g", conf: dict[str, str] | None = None, spark=None):
        from shelfwise.models.spark.session import spark_session

        root = Path(work_dir) if work_dir else Path(tempfile.gettempdir())
        self.folder = root / f"shelfwise-spark-{uuid.uuid4().hex[:10]}"
        # a session this process already runs is left running on close (its owner stops it)
        self.spark, self._own_session = (spark, False) if spark is not None else spark_session(
            master, driver_memory, conf)
        self._frames: tuple[Interactions, Frames] | None = None

    @classmethod
    def from_settings(cls, settings) -> SparkTrainer:
        """A trainer on ``settings.training``'s master, its Parquet under ``spark_dir`` (default
        ``<home>/spark``); the JVM starts here."""
        t = settings.training
        return cls(t.spark_master, t.spark_dir or Path(settings.home) / "spark", driver_memory=t.spark_driver_memory)

    @staticmethod
    def can_fit(name: str) -> bool:
        return name in SPARK_MODELS

    def frames(self, view: Interactions) -> Frames:
        """The view as DataFrames, exported on first use (one export per view)."""
        from shelfwise.models.spark.export import export_view

        if self._frames is None or self._frames[0] is not view:
            if self._frames is not None:
                self._frames[1].events.unpersist()
                self._frames[1].ratings.unpersist()
            paths = export_view(view, self.folder / "view")
            frames = Frames(self.spark, self.spark.read.parquet(paths["events"]).cache(),
                            self.spark.read.parquet(paths["ratings"]).cache())
            self._frames = (view, frames)
        return self._frames[1]

    def fit(self, model: Recommender, view: Interactions) -> Recommender:
        """Fit ``model`` (one of SPARK_MODELS) on ``view`` with Spark; returns the model."""
        if model.name not in SPARK_MODELS:
            raise ValueError(f"no Spark trainer for model {model.name!r}; on Spark: {', '.join(sorted(SPARK_MODELS))}")
        model.begin_fit(view)
        out = self.folder / "out" / model.name
        _trainers()[model.name](model, view, self.frames(view), str(out))
        shutil.rmtree(out, ignore_errors=True)
        return model

    def close(self) -> None:
        if self._frames is not None:
            self._frames[1].events.unpersist()
            self._frames[1].ratings.unpersist()
            self._frames = None
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._own_session:
            self.spark.stop()

    def __enter__(self) -> SparkTrainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["SPARK_MODELS", "Frames", "SparkTrainer"]
