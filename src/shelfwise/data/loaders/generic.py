"""Generic CSV / Parquet / JSON-lines events with a column mapping."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shelfwise.data.loaders.base import Dataset, finish, read_delimited
from shelfwise.data.validation import OnError

# Common spellings of the canonical columns in exported logs and research files. One is
# taken (case-insensitively) only when the canonical name is absent and exactly one of its
# spellings is present, so a file's own explicit columns always win.
COLUMN_ALIASES = {
    "user_id": ("user", "userid", "user_id:token", "customer_id", "customerid", "visitorid",
                "visitor_id", "uid", "buyer_id", "client_id"),
    "item_id": ("item", "itemid", "item_id:token", "product_id", "productid", "product", "sku",
                "aid", "article_id", "asin", "iid", "goods_id"),
    "event_type": ("event", "type", "behavior", "behaviour", "behavior_type", "behaviour_type",
                   "action", "action_type", "interaction", "event_name"),
    "timestamp": ("time", "ts", "datetime", "date", "event_time", "timestamp:float",
                  "unix_time", "created_at", "time_stamp"),
    "session_id": ("session", "sessionid", "session_id:token"),
    "value": ("rating", "rating:float", "score"),
}


def guess_columns(columns) -> dict[str, str]:
    """Source column -> canonical column for the aliases found in ``columns``."""
    present = {str(c).strip().lstrip("\ufeff").lower(): c for c in columns}
    renames = {}
    for canonical, spellings in COLUMN_ALIASES.items():
        if canonical in present:
            if present[canonical] != canonical:  # e.g. "User_ID" or a BOM-prefixed header
                renames[present[canonical]] = canonical
            continue
        found = [present[s] for s in spellings if s in present]
        if len(found) == 1:
            renames[found[0]] = canonical
    return renames


def load_events(path: str | Path, mapping: dict[str, str] | None = None,
                fmt: str | None = None, sep: str = ",", on_error: OnError = "fail",
                defaults: dict[str, str] | None = None, fill_missing: bool = False) -> Dataset:
    """Read events from ``path``.

    mapping: source column -> canonical column (user_id, item_id, event_type, timestamp,
    session_id, value, event_id, context); without it, common spellings are recognised
    (``COLUMN_ALIASES``: "userId", "product_id", "behavior", "rating", ...).
    fmt: "csv", "tsv", "parquet" or "jsonl"; guessed from the suffix when None.
    defaults: constant values for canonical columns the file lacks, e.g. {"event_type": "view"}.
    fill_missing: for bare interaction files (``user_id,item_id`` only): a missing
    event_type means "purchase", and a missing timestamp means the file's row order. The
    dataset's ``notes`` say which were filled.
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
    raw = raw.rename(columns=mapping if mapping else guess_columns(raw.columns))
    for col, value in (defaults or {}).items():
        if col not in raw:
            raw[col] = value
    notes = []
    if fill_missing and "event_type" not in raw:
        raw["event_type"] = "purchase"
        notes.append("no event_type column: every row is taken as a purchase")
    if fill_missing and "timestamp" not in raw:
        raw["timestamp"] = raw["line"].astype("float64")  # row order is the time order
        notes.append("no timestamp column: rows are taken in file order")
    return finish(path.stem, raw, on_error, str(path), pre, notes=notes)
