"""A Gorse export: JSON lines of users, items and feedback (``shelfwise import --format gorse``).

One file with the three kinds mixed, or a folder of ``*.jsonl`` files (Gorse's dashboard
exports users, items and feedback separately). Each line is one object, told apart by its
keys as Gorse writes them::

    {"UserId": "bob", "Labels": {"age": 24}, "Comment": "my user"}
    {"ItemId": "vuejs:vue", "IsHidden": false, "Categories": ["framework"],
     "Timestamp": "2022-02-24T00:00:00Z", "Labels": ["js"], "Comment": "Vue.js"}
    {"FeedbackType": "star", "UserId": "bob", "ItemId": "vuejs:vue", "Value": 0,
     "Timestamp": "2022-02-24T00:00:00Z", "Comment": ""}

Users and items become profile and catalogue rows, feedback of a type that maps to a
behaviour (``GorseSettings``) becomes events with the ids the ``/api`` routes give them, so
importing after (or before) posting the same feedback stores it once. Feedback of negative or
unknown types trains nothing, as in Gorse: it is counted in a note and returned in
``extra["feedback_not_imported"]``. A malformed line is reported with its line number.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd

from shelfwise.data.gorse import (
    GorseSettings,
    feedback_context,
    feedback_event_id,
    item_row,
    parse_time,
    user_row,
)
from shelfwise.data.loaders.base import Dataset, finish
from shelfwise.data.validation import MalformedInput, OnError, RowError

_TEXT_FIELDS = {"user": ("UserId", "Comment"), "item": ("ItemId", "Comment"),
                "feedback": ("FeedbackType", "UserId", "ItemId", "Comment")}


def load_gorse(path: str | Path, on_error: OnError = "fail", settings: GorseSettings | None = None) -> Dataset:
    """Read a Gorse export (a ``.jsonl`` file, or a folder of them, read in name order).

    settings: how feedback types map to behaviours (default: ``GorseSettings()``; pass the
    shop's ``settings.gorse`` when it names its own types). Returns a Dataset of events
    (columns as ``validate_events`` gives them), items and users (store layout), with each
    rejected line as a ``RowError`` (with ``"fail"`` they raise ``MalformedInput``; in a
    folder its field starts with the file's name)."""
    path = Path(path)
    settings = settings or GorseSettings()
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"{path}: no .jsonl files in this folder")
    users: dict[str, dict] = {}
    items: dict[str, dict] = {}
    events: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    undated: dict[str, float] = {}  # feedback without a time: dated now, and counted
    errors: list[RowError] = []
    for file in files:
        found: list[RowError] = []
        with file.open(encoding="utf-8-sig") as fh:
            for number, text in enumerate(fh, start=1):
                if text.strip():
                    _read_line(text, number, settings, users, items, events, skipped, found, undated)
        # in a folder, an error names its file too (lines are numbered per file)
        errors += found if path.is_file() else [RowError(e.line, f"{file.name}: {e.field}", e.message) for e in found]
    name = path.stem if path.is_file() else path.name
    source = str(path)
    if errors and on_error == "fail":
        raise MalformedInput(errors, source)
    raw = pd.DataFrame(events, columns=["event_id", "user_id", "item_id", "event_type", "timestamp",
                                        "value", "context", "line"])
    notes = []
    if skipped:
        kinds = Counter(f["FeedbackType"] for f in skipped)
        notes.append(f"{len(skipped)} feedback row(s) of types shelfwise does not train on were not imported "
                     f"({', '.join(f'{t}: {c}' for t, c in sorted(kinds.items()))}); Gorse ignores unknown types "
                     "in training too. Name a type in gorse.positive_feedback_types or read_feedback_types to keep it.")
    if undated:
        notes.append(f"{int(undated['count'])} feedback row(s) had no time (Go's zero time): dated at the import")
    extra = {"feedback_not_imported": pd.DataFrame(skipped)} if skipped else {}
    return finish(name, raw, on_error, source, errors, notes=notes, extra=extra,
                  items=pd.DataFrame(list(items.values())) if items else None,
                  users=pd.DataFrame(list(users.values())) if users else None)


def _read_line(text: str, line: int, settings: GorseSettings, users: dict, items: dict,
               events: list, skipped: list, errors: list[RowError], undated: dict) -> None:
    """Parse one export line into ``users`` / ``items`` / ``events`` (or ``skipped``), or
    append why it cannot be read to ``errors``."""
    try:
        obj = json.loads(text)
    except ValueError as exc:
        errors.append(RowError(line, "json", f"not JSON: {exc}"))
        return
    if not isinstance(obj, dict):
        errors.append(RowError(line, "json", "not a JSON object"))
        return
    kind = "feedback" if "FeedbackType" in obj else "item" if "ItemId" in obj else "user" if "UserId" in obj else None
    if kind is None:
        errors.append(RowError(line, "json", "neither a user, an item nor feedback "
                                             "(no UserId, ItemId or FeedbackType)"))
        return
    for key in _TEXT_FIELDS[kind]:
        if obj.get(key) is not None and not isinstance(obj[key], str):
            errors.append(RowError(line, key, f"must be a string (got {obj[key]!r})"))
            return
    ids = _TEXT_FIELDS[kind][:-1]  # every field but Comment is an id
    missing = [key for key in ids if not obj.get(key)]
    if missing:
        errors.append(RowError(line, missing[0], "missing or empty"))
        return
    try:
        timestamp = parse_time(obj.get("Timestamp"))
    except ValueError as exc:
        errors.append(RowError(line, "Timestamp", str(exc)))
        return
    if kind == "user":
        users[obj["UserId"]] = user_row(obj)
    elif kind == "item":
        if obj.get("Categories") is not None and (not isinstance(obj["Categories"], list)
                                                  or not all(isinstance(c, str) for c in obj["Categories"])):
            errors.append(RowError(line, "Categories", "must be a list of strings"))
            return
        items[obj["ItemId"]] = item_row({**obj, "Timestamp": timestamp})
    else:
        _feedback(obj, timestamp, line, settings, events, skipped, errors, undated)


def _feedback(obj: dict, timestamp: float | None, line: int, settings: GorseSettings,
              events: list, skipped: list, errors: list[RowError], undated: dict) -> None:
    value = obj.get("Value", 0) or 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.append(RowError(line, "Value", f"must be a number (got {value!r})"))
        return
    behaviour = settings.behaviour(obj["FeedbackType"])
    if behaviour is None:
        skipped.append({**obj, "line": line})
        return
    if timestamp is None:  # never set in Gorse: the import's time, as the API takes the arrival time
        timestamp = undated.setdefault("now", time.time())
        undated["count"] = undated.get("count", 0) + 1
    events.append({
        "event_id": feedback_event_id(obj["FeedbackType"], obj["UserId"], obj["ItemId"]),
        "user_id": obj["UserId"], "item_id": obj["ItemId"], "event_type": behaviour, "timestamp": timestamp,
        "value": float(value) if value else None,
        "context": feedback_context(obj["FeedbackType"], behaviour, obj.get("Comment") or ""), "line": line})
