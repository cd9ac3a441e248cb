"""The API's side of the online state: what an accepted event moves, and the list cache.

``accepted(app, rows)`` runs after the events are durable and before the answer, so when a
client holds the acknowledgement the popularity counters have moved and the shopper's cached
lists are invalid in every process sharing the state. ``list_key`` names a cached list by
request and by the model versions serving (an activation anywhere changes it).
"""

from __future__ import annotations

import hashlib
import json

from starlette.applications import Starlette

from shelfwise.errors import NotTrained


def accepted(app: Starlette, rows: list[dict], counted: bool = True) -> None:
    """Record stored event rows (user_id, item_id, event_type) in the online state; with
    ``counted`` False (a batch that was partly a re-send) they move no counter."""
    if not rows:
        return
    engine = app.state.engine
    weights = engine.settings.behaviour_weights
    counters, once = None, False
    if counted:
        try:
            popular, _ = engine.versions.load("popular")
            counters = engine.versions.active()["popular"]
            once = getattr(popular, "count", "users") == "users"  # distinct shoppers per item
        except NotTrained:
            pass
    app.state.online.accept([(str(r["user_id"]), None if r.get("item_id") is None else str(r["item_id"]),
                              weights.get(str(r["event_type"]), 0.0)) for r in rows], counters, once)


def list_key(engine, route: str, **params) -> str:
    """A short key for one request's list under the model versions serving now."""
    raw = json.dumps([route, params, engine.versions.active()], sort_keys=True, default=str)
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()
