"""Vectorised validation of event frames, with errors that name the line and the field.

Loaders produce a raw frame (strings as read) plus a ``line`` column holding the line number
in the source file; ``validate_events`` returns the clean canonical frame and the list of
rejected rows. With ``on_error="fail"`` any rejected row raises ``MalformedInput`` before a
single event is written, so a failed import changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from shelfwise.data.schemas import EVENT_COLUMNS, EVENT_TYPES, derive_event_ids

OnError = Literal["fail", "skip"]

#: Spellings other tools use for our event types (lower-case keys).
EVENT_TYPE_ALIASES = {
    "pv": "view", "page_view": "view", "detail": "view", "clicks": "click",
    "fav": "favorite", "favourite": "favorite", "wishlist": "favorite", "collect": "favorite",
    "add_to_cart": "cart", "addtocart": "cart", "carts": "cart",
    "buy": "purchase", "order": "purchase", "orders": "purchase", "transaction": "purchase",
    "rating": "review", "rate": "review",
}


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class MalformedInput(ValueError):
    """Raised when rows are rejected and the caller asked to fail; lists every bad row."""

    def __init__(self, errors: list[RowError], source: str = "input"):
        self.errors = errors
        shown = "\n".join(f"  {e}" for e in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} malformed row(s) in {source}:\n{shown}{more}")


def _text(col: pd.Series) -> pd.Series:
    """Strings with surrounding space removed; missing and empty become NA."""
    s = col.astype("string").str.strip()
    return s.mask(s == "")


def parse_timestamps(col: pd.Series) -> pd.Series:
    """Unix seconds (float64) from numbers or ISO-8601 text; NaN where unparseable."""
    numeric = pd.to_numeric(col, errors="coerce").astype("float64")
    todo = numeric.isna() & col.notna()
    if todo.any():
        dt = pd.to_datetime(col[todo].astype(str), errors="coerce", utc=True, format="ISO8601")
        secs = (dt - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        numeric.loc[todo] = secs.astype("float64")
    return numeric


def validate_events(raw: pd.DataFrame, on_error: OnError = "fail",
                    source: str = "input") -> tuple[pd.DataFrame, list[RowError]]:
    """Check and normalise a raw event frame.

    raw: columns user_id, item_id, event_type, timestamp and optionally event_id,
    session_id, value, context, line (1-based source line; defaults to row position + 1).
    Returns (frame with exactly ``EVENT_COLUMNS``, rejected rows).
    """
    if on_error not in ("fail", "skip"):
        raise ValueError(f"on_error must be 'fail' or 'skip'. Got {on_error!r} instead.")
    missing = [c for c in ("user_id", "item_id", "event_type", "timestamp") if c not in raw]
    if missing:
        raise ValueError(f"{source}: missing column(s) {', '.join(missing)}")
    n = len(raw)
    lines = (raw["line"].to_numpy() if "line" in raw else np.arange(1, n + 1)).astype(np.int64)
    out = pd.DataFrame(index=raw.index)
    out["user_id"] = _text(raw["user_id"])
    out["item_id"] = _text(raw["item_id"])
    et = _text(raw["event_type"]).str.lower()
    out["event_type"] = et.replace(EVENT_TYPE_ALIASES)
    out["timestamp"] = parse_timestamps(raw["timestamp"])
    out["session_id"] = _text(raw["session_id"]) if "session_id" in raw else pd.NA
    if "value" in raw:
        value_text = _text(raw["value"])
        out["value"] = pd.to_numeric(value_text, errors="coerce").astype("float64")
        bad_value = value_text.notna() & out["value"].isna()
    else:
        out["value"] = np.nan
        bad_value = pd.Series(False, index=raw.index)
    if "context" in raw:
        out["context"] = raw["context"].map(_context_json)
    else:
        out["context"] = None

    is_search = out["event_type"] == "search"
    checks = [
        ("user_id", out["user_id"].isna(), "missing user id"),
        ("event_type", out["event_type"].isna(), "missing event type"),
        ("event_type", out["event_type"].notna() & ~out["event_type"].isin(EVENT_TYPES),
         "unknown event type (expected one of " + ", ".join(EVENT_TYPES) + ")"),
        ("item_id", out["item_id"].isna() & ~is_search, "missing item id"),
        ("timestamp", out["timestamp"].isna() | ~np.isfinite(out["timestamp"].fillna(0)),
         "missing or unparseable timestamp"),
        ("value", bad_value, "value is not a number"),
        ("context", out["context"].map(lambda c: c is _BAD), "context is not a JSON object"),
    ]
    errors: list[RowError] = []
    bad = np.zeros(n, dtype=bool)
    for field, mask, message in checks:
        m = np.array(mask.fillna(True) if hasattr(mask, "fillna") else mask, dtype=bool)
        m &= ~bad  # one error per row: the first field that fails
        for pos in np.flatnonzero(m):
            shown = raw[field].iloc[pos] if field in raw else None
            errors.append(RowError(int(lines[pos]), field,
                                   f"{message} (got {shown!r})" if shown is not None else message))
        bad |= m
    errors.sort(key=lambda e: e.line)
    if errors and on_error == "fail":
        raise MalformedInput(errors, source)
    out = out[~bad]
    given = (_text(raw["event_id"])[~bad] if "event_id" in raw
             else pd.Series(pd.NA, index=out.index, dtype="string"))
    out["event_id"] = given
    todo = given.isna().to_numpy()
    if todo.any():
        sub = out.loc[todo].astype(object).where(out.loc[todo].notna(), None)
        out.loc[todo, "event_id"] = derive_event_ids(sub)
    out = out[list(EVENT_COLUMNS)].reset_index(drop=True)
    out["event_id"] = out["event_id"].astype(object)
    return out, errors


_BAD = object()


def _context_json(v):
    """Context as compact JSON text (None when empty); ``_BAD`` when not a JSON object."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v == "":
        return None
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True) if v else None
    try:
        parsed = json.loads(v)
    except (TypeError, ValueError):
        return _BAD
    if not isinstance(parsed, dict):
        return _BAD
    return json.dumps(parsed, sort_keys=True) if parsed else None
