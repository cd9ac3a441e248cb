"""The training view as partitioned Parquet, the form Spark reads, and Spark's results back.

Two datasets under the run's folder, each partitioned by ``bucket = user % buckets`` (one
sub-folder per bucket, so executors read the buckets in parallel):

- ``events/``: one row per event, in the view's index spaces: ``user`` int32, ``item`` int32,
  ``type`` int8 (code into EVENT_TYPES), ``time`` float64 (Unix seconds), ``session`` int64
  (-1 for none);
- ``ratings/``: one row per stored cell of the (n_users, n_items) matrix: ``user``, ``item``,
  ``weight`` float32 (summed behaviour weights, reviews by rating, as ``Interactions.matrix``).

The view is what ``Engine.training_view`` read from the store (consent already applied), so
Spark learns from exactly the events a single-process fit would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shelfwise.data.interactions import Interactions


def export_view(view: Interactions, folder: str | Path, buckets: int = 4) -> dict[str, str]:
    """Write ``view`` as Parquet under ``folder``; {"events": path, "ratings": path}."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    users = np.repeat(np.arange(view.n_users, dtype=np.int32), np.diff(view.seq_indptr))
    sessions = (np.full(view.n_events, -1, np.int64) if view.seq_sessions is None
                else np.asarray(view.seq_sessions, np.int64))
    events = pa.table({"user": users, "item": np.asarray(view.seq_items, np.int32),
                       "type": np.asarray(view.seq_types, np.int8),
                       "time": np.asarray(view.seq_times, np.float64), "session": sessions,
                       "bucket": (users % buckets).astype(np.int32)})
    coo = view.matrix.tocoo()
    ratings = pa.table({"user": coo.row.astype(np.int32), "item": coo.col.astype(np.int32),
                        "weight": coo.data.astype(np.float32),
                        "bucket": (coo.row % buckets).astype(np.int32)})
    paths = {}
    for name, table in (("events", events), ("ratings", ratings)):
        path = folder / name
        pq.write_to_dataset(table, root_path=str(path), partition_cols=["bucket"],
                            existing_data_behavior="delete_matching")
        paths[name] = str(path)
    return paths


def read_result(path: str | Path) -> dict[str, np.ndarray]:
    """A folder Spark wrote (``DataFrame.write.parquet``) as {column: numpy array}; a column
    of fixed-length arrays (ALS factors) becomes a 2-D array (rows, length)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(str(path))
    out = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if pa.types.is_list(column.type):
            flat = column.flatten().to_numpy(zero_copy_only=False)
            out[name] = flat.reshape(len(column), -1) if len(column) else flat.reshape(0, 0)
        else:
            out[name] = column.to_numpy(zero_copy_only=False)
    return out
