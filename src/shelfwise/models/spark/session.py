"""The Spark session a training run uses, configured for the machine it runs on.

``local[2]`` (tests, CI, one machine) runs Spark inside a JVM the driver starts; a cluster
URL (``spark://host:7077``, ``yarn``, ``k8s://...``) sends the work to the cluster's
executors, which must then reach the run's Parquet folder (``training.spark_dir`` on a
shared filesystem).
"""

from __future__ import annotations

#: settings for a small machine: few shuffle partitions (the default 200 would make hundreds
#: of tiny tasks), no web UI, no console progress bars in the CLI's output
BASE_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
    # Parquet written by pyarrow stores nanosecond-free plain columns: nothing to convert
    "spark.sql.parquet.compression.codec": "snappy",
}


def spark_session(master: str = "local[2]", driver_memory: str = "2g", conf: dict[str, str] | None = None):
    """A SparkSession on ``master`` (created, or the running one if the JVM is already up, in
    which case ``driver_memory`` cannot change any more)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from shelfwise.errors import MissingExtra

        raise MissingExtra("Training on Spark", "spark", ["pyspark"]) from exc
    builder = SparkSession.builder.master(master).appName("shelfwise-train")
    for key, value in {**BASE_CONF, "spark.driver.memory": driver_memory, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
