"""Generic CSV / Parquet / JSON-lines events with a column mapping."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shelfwise.data.loaders.base import Dataset, finish, read_delimited
from shelfwise.data.validation import OnError


def load_events(path: str | Path, mapping: dict[str, str] | None = None,
                fmt: str | None = None, sep: str = ",", on_error: OnError = "fail",
                defaults: dict[str, str] | None = None) -> Dataset:
    """Read events from ``path``.

    mapping: source column -> canonical column (user_id, item_id, event_type, timestamp,
    session_id, value, event_id, context); unmapped canonical names are used as they are.
    fmt: "csv", "tsv", "parquet" or "jsonl"; guessed from the suffix when None.
    defaults: constant values for canonical columns the file lacks, e.g. {"event_type": "view"}.
    """
    path = Path(path)
    fmt = fmt or {".parquet": "parquet", ".jsonl": "jsonl", ".json": "jsonl",
                  ".tsv": "tsv"}.get(path.suffix.lower(), "csv")
    pre = []
    if fmt in ("csv", "tsv"):
        raw, pre = read_delimited(path, sep="\t" if fmt == "tsv" else sep, on_error="skip")
    elif fmt == "parquet":
        raw = pd.read_parquet(path)
        raw["line"] = range(1, len(raw) + 1)  # row number: parquet has no lines
    elif fmt == "jsonl":
        raw = pd.read_json(path, lines=True, dtype=False)
        raw["line"] = range(1, len(raw) + 1)
    else:
        raise ValueError(f"Unknown format {fmt!r}: expected csv, tsv, parquet or jsonl.")
    raw = raw.rename(columns=mapping or {})
    for col, value in (defaults or {}).items():
        if col not in raw:
            raw[col] = value
    return finish(path.stem, raw, on_error, str(path), pre)
