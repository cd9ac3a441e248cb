"""Anonymous-session click logs: YooChoose (RecSys Challenge 2015) and OTTO.

Sessions carry no shopper id, so each session is its own user and its own session id.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from shelfwise.data.loaders.base import Dataset, finish, read_delimited
from shelfwise.data.validation import OnError, RowError

OTTO_TYPES = {"clicks": "click", "carts": "cart", "orders": "purchase"}


def load_yoochoose(path: str | Path, on_error: OnError = "fail") -> Dataset:
    """Tab-separated ``SessionId ItemId Time`` (unix seconds) with a header."""
    raw, pre = read_delimited(path, sep="\t", on_error="skip")
    raw = raw.rename(columns={"SessionId": "user_id", "ItemId": "item_id", "Time": "timestamp"})
    raw["session_id"] = raw["user_id"]
    raw["event_type"] = "click"
    return finish("yoochoose", raw, on_error, str(path), pre)


def load_otto(path: str | Path, on_error: OnError = "fail") -> Dataset:
    """JSON lines ``{"session": s, "events": [{"aid", "ts" (ms), "type"}]}``."""
    rows, bad = [], []
    with Path(path).open(encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                record = json.loads(text)
                session = str(record["session"])
                for ev in record["events"]:
                    rows.append((session, str(ev["aid"]), OTTO_TYPES.get(ev["type"], ev["type"]),
                                 float(ev["ts"]) / 1000.0, session, lineno))
            except (ValueError, KeyError, TypeError) as exc:
                bad.append(RowError(lineno, "row", f"not an OTTO session record ({exc})"))
    raw = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp",
                                      "session_id", "line"])
    return finish("otto", raw, on_error, str(path), bad)
