"""Storing Gorse feedback: events for the types that map to a behaviour, side rows for the
rest, and the online state moved as ``POST /events`` moves it (popularity counters, the
shopper's cached lists), so the next ``/api/recommend`` for that shopper sees it at once.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
from fastapi import Request
from pydantic import BaseModel, ConfigDict, StrictStr

from shelfwise.data.gorse import GorseSettings, feedback_context, feedback_event_id, parse_time
from shelfwise.engine import Engine

from .common import BodyId, GorseError, engine_of, gorse_settings
from .feedback_store import delete_events, existing_events, upsert_side
from .store import item_rows, user_rows


class FeedbackIn(BaseModel):
    """Gorse's Feedback as clients send it (fields not sent are Go's zero values)."""

    model_config = ConfigDict(extra="ignore")
    FeedbackType: BodyId = ""
    UserId: BodyId = ""
    ItemId: BodyId = ""
    Value: float = 0.0
    Timestamp: StrictStr | float | None = ""
    Comment: StrictStr | None = ""


def parsed_feedback(items: list[FeedbackIn]) -> list[dict[str, Any]]:
    """Feedback dicts with ``Timestamp`` in Unix seconds (None when not given); a 400 for an
    empty id or type (shelfwise keys every event by user and item) or an unreadable time."""
    out = []
    for pos, f in enumerate(items):
        for field in ("FeedbackType", "UserId", "ItemId"):
            if not getattr(f, field):
                raise GorseError(400, f"feedback {pos}: {field} is empty")
        try:
            ts = parse_time(f.Timestamp)
        except ValueError as exc:
            raise GorseError(400, str(exc)) from None
        out.append({"FeedbackType": f.FeedbackType, "UserId": f.UserId, "ItemId": f.ItemId,
                    "Value": f.Value, "Timestamp": ts, "Comment": f.Comment or ""})
    return out


def _dedupe(feedback: list[dict], keep_last: bool) -> list[dict]:
    """One row per key, as a batch stores it in Gorse: the first (insert) or last (overwrite)."""
    seen: dict[tuple, dict] = {}
    for f in feedback:
        key = (f["FeedbackType"], f["UserId"], f["ItemId"])
        if keep_last or key not in seen:
            seen[key] = f
    return list(seen.values())


def _existing_only(engine: Engine, settings: GorseSettings, feedback: list[dict], insert_users: bool,
                   insert_items: bool, request: Request) -> list[dict]:
    """Create the missing users and items feedback names (Gorse's auto_insert_user /
    auto_insert_item), or drop the feedback that names one that is missing, as Gorse does."""
    users = sorted({f["UserId"] for f in feedback})
    items = sorted({f["ItemId"] for f in feedback})
    have_users, have_items = set(user_rows(engine, users)), set(item_rows(engine, items))
    new_users = [u for u in users if u not in have_users]
    new_items = [i for i in items if i not in have_items]
    if new_users and insert_users:
        engine.store.upsert_users([{"user_id": u} for u in new_users])
        have_users.update(new_users)
    if new_items and insert_items:
        engine.store.upsert_items([{"item_id": i} for i in new_items])
        request.app.state.online.catalogue_changed()
        have_items.update(new_items)
    return [f for f in feedback if f["UserId"] in have_users and f["ItemId"] in have_items]


def store_feedback(request: Request, feedback: list[dict[str, Any]], overwrite: bool,
                   insert_missing: bool = True) -> None:
    """Store parsed feedback. Without ``overwrite`` a key already stored keeps its row (POST);
    with it the row is replaced (PUT). ``insert_missing``: whether missing users and items may
    be created (per the settings; never for written-back feedback)."""
    engine, settings, now = engine_of(request), gorse_settings(request), time.time()
    feedback = _dedupe(feedback, keep_last=overwrite)
    feedback = _existing_only(engine, settings, feedback, insert_missing and settings.auto_insert_user,
                              insert_missing and settings.auto_insert_item, request)
    events, side = [], []
    for f in feedback:
        # Go's zero time would read as year 1 to every time-aware model: the arrival time instead
        ts = now if f["Timestamp"] is None else f["Timestamp"]
        behaviour = settings.behaviour(f["FeedbackType"])
        if behaviour is None:
            side.append({"user_id": f["UserId"], "item_id": f["ItemId"], "feedback_type": f["FeedbackType"],
                         "value": f["Value"], "timestamp": ts, "comment": f["Comment"]})
            continue
        events.append({"event_id": feedback_event_id(f["FeedbackType"], f["UserId"], f["ItemId"]),
                       "user_id": f["UserId"], "item_id": f["ItemId"], "event_type": behaviour,
                       "timestamp": ts, "session_id": None, "value": f["Value"] or None,
                       "context": feedback_context(f["FeedbackType"], behaviour, f["Comment"])})
    if events:
        keys = [(r["user_id"], r["event_id"]) for r in events]
        stored = existing_events(engine, keys)
        if overwrite and stored:
            delete_events(engine, sorted(stored))
        engine.ingest(pd.DataFrame(events), on_error="fail")  # moves the online state for what it stored
    if side:
        upsert_side(engine, side, overwrite)
        request.app.state.online.accept([(r["user_id"], None, 0.0) for r in side], None, False)
