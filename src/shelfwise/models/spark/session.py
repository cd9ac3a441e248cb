"""The Spark session a training run uses, configured for the machine it runs on.

``local[2]`` (tests, CI, one machine) runs Spark inside a JVM the driver starts; a cluster
URL (``spark://host:7077``, ``yarn``, ``k8s://...``) sends the work to the cluster's
executors, which must then reach the run's Parquet folder (``training.spark_dir`` on a
shared filesystem).
"""

from __future__ import annotations

import os

#: settings for a small machine: few shuffle partitions (the default 200 would make hundreds
#: of tiny tasks), no web UI, no console progress bars in the CLI's output
BASE_CONF = {
    "spark.executorEnv.OPENBLAS_NUM_THREADS": "1",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
    # Parquet written by pyarrow stores nanosecond-free plain columns: nothing to convert
    "spark.sql.parquet.compression.codec": "snappy",
}


def _session_class():
    """pyspark's SparkSession, or MissingExtra naming the 'spark' extra."""
    import importlib

    missing = []
    for module in ("pyspark", "pyarrow"):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        from shelfwise.errors import MissingExtra

        raise MissingExtra("Training on Spark", "spark", missing)
    from pyspark.sql import SparkSession

    return SparkSession


def spark_session(master: str = "local[2]", driver_memory: str = "2g",
                  conf: dict[str, str] | None = None) -> tuple[object, bool]:
    """(a SparkSession on ``master``, whether it was started here). A session this process
    already runs is returned as it is (its JVM's memory cannot change any more)."""
    session_class = _session_class()
    running = session_class.getActiveSession()
    if running is not None:
        return running, False
    # MLlib's ALS solves through the system's BLAS/LAPACK when it finds libblas.so.3 (Debian:
    # libopenblas0); one thread each, as Spark's tasks already use the cores. The JVM started
    # below inherits this process's environment, executors get it through spark.executorEnv.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    builder = session_class.builder.master(master).appName("shelfwise-train")
    for key, value in {**BASE_CONF, "spark.driver.memory": driver_memory, **(conf or {})}.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # no Java, a master that does not answer: one line for the user
        from shelfwise.errors import ShelfwiseError

        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ShelfwiseError(f"cannot start Spark on {master!r}: {first}") from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark, True
