"""The API's side of the online state: what an accepted event moves, and the list cache.

``accepted(app, rows)`` runs after the events are durable and before the answer, so when a
client holds the acknowledgement the popularity counters have moved and the shopper's cached
lists are invalid in every process sharing the state. ``list_key`` names a cached list by
request and by the model versions serving (an activation anywhere changes it).
"""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace
from urllib.parse import parse_qs

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
    """A short key for one request's list under the model versions serving now and the
    catalogue as it is (a stock change anywhere changes it)."""
    online = getattr(engine, "online", None)
    catalogue = online.catalogue_generation() if online is not None else 0
    raw = json.dumps([route, params, engine.versions.active(), catalogue], sort_keys=True, default=str)
    return hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


ROUTE = SimpleNamespace(path="/users/{user_id}/recommendations")


class CachedLists:
    """Answer ``GET /users/{id}/recommendations`` from the list cache before routing, when the
    key is known (checked within ``serve.key_cache_seconds``) and allows ``read``.

    Safe without re-validating: a list is cached only after the full route validated and
    answered the same shopper, ``n`` and model, and the cache key holds all three. Anything
    else (an unusual query, an unknown key, a miss) goes on to the route as usual."""

    def __init__(self, app, state_app: Starlette):
        self.app, self.state_app = app, state_app

    async def __call__(self, scope, receive, send):
        payload = self._hit(scope) if scope["type"] == "http" and scope["method"] == "GET" else None
        if payload is None:
            return await self.app(scope, receive, send)
        scope["route"] = ROUTE  # so the metrics name the route as for any answer
        self.state_app.state.metrics.cache_hits.inc()
        if b'"fallback":null' not in payload:
            self.state_app.state.metrics.count_fallback(json.loads(payload)["fallback"])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    def _hit(self, scope) -> bytes | None:
        parts = scope["path"].split("/")
        if len(parts) != 4 or parts[1] != "users" or parts[3] != "recommendations" or not parts[2]:
            return None
        engine = self.state_app.state.engine
        if engine.settings.online.cache_seconds <= 0:
            return None
        query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        if set(query) - {"n", "model"} or any(len(v) != 1 for v in query.values()):
            return None
        n = query.get("n", ["10"])[0]
        if not n.isdigit():
            return None
        presented = _presented(scope["headers"])
        key = self.state_app.state.keys.check(presented) if presented else None
        if key is None or not key.allows("read"):
            return None
        model = query.get("model", [engine.settings.default_model])[0]
        return self.state_app.state.online.cached(parts[2], list_key(engine, "recommend", n=int(n), model=model,
                                                                     options=None))[1]


def _presented(headers: list[tuple[bytes, bytes]]) -> str | None:
    found = dict(headers)
    auth = found.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    key = found.get(b"x-api-key")
    return key.decode("latin-1") if key else None

