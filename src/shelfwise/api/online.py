"""The API's side of the online state: the list cache.

What an accepted event moves is the Engine's (``Engine.accepted``, called by every ingest
path). ``list_key`` names a cached list by request and by the model versions serving (an
activation anywhere changes it); ``CachedLists`` answers a plain list request from the cache
before routing, its store and Redis reads in a worker thread, off the event loop.
"""

from __future__ import annotations

import hashlib
import json
from types import SimpleNamespace
from urllib.parse import parse_qs

import anyio
from fastapi import HTTPException
from starlette.applications import Starlette
from starlette.requests import Request

from shelfwise.api.schemas import SLASH


def served_from_cache(app: Starlette, user_id: str, payload: bytes) -> None:
    """Count a list answered from the cache, and log it as shown (a precomputed list is
    logged when first served; a list logged already is not logged twice)."""
    app.state.metrics.cache_hits.inc()
    body = json.loads(payload)
    if body.get("fallback") is not None:
        app.state.metrics.count_fallback(body["fallback"])
    if app.state.engine.impressions is not None:
        app.state.engine.impressions.log_answer(body, user_id)


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
    request's key allows ``read`` (or its shopper token is this shopper's), checked and rate
    limited by the app's ``Guard`` (which the route reuses when the cache misses).

    Safe without re-validating: a list is cached only after the full route validated and
    answered the same shopper, ``n`` and model, and the cache key holds all three. Anything
    else (an unusual query, an unknown key, a miss) goes on to the route as usual."""

    def __init__(self, app, state_app: Starlette):
        self.app, self.state_app = app, state_app

    async def __call__(self, scope, receive, send):
        payload = None
        if scope["type"] == "http" and scope["method"] == "GET" and _plain_list_path(scope["path"]) \
                and self.state_app.state.engine.settings.online.cache_seconds > 0:
            try:
                key = await self.state_app.state.guard.caller(Request(scope))
            except HTTPException:
                key = None  # the route answers the refusal (the guard's answer is kept)
            user = scope["path"].split("/")[2].replace(SLASH, "/")  # an encoded '/' (EncodedSlashes)
            if key is not None and (key.allows("read") if key.shopper is None else key.shopper == user):
                payload = await anyio.to_thread.run_sync(self._hit, scope, user)
        if payload is None:
            return await self.app(scope, receive, send)
        scope["route"] = ROUTE  # so the metrics name the route as for any answer
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    def _hit(self, scope, user: str) -> bytes | None:
        """The cached list for this request, counted and logged as served; None to route it."""
        engine = self.state_app.state.engine
        query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        if set(query) - {"n", "model"} or any(len(v) != 1 for v in query.values()):
            return None
        n = query.get("n", ["10"])[0]
        if not n.isdigit():
            return None
        model = query.get("model", [engine.settings.default_model])[0]
        payload = self.state_app.state.online.cached(user, list_key(engine, "recommend", n=int(n), model=model,
                                                                        options=None))[1]
        if payload is not None:
            served_from_cache(self.state_app, user, payload)
        return payload


def _plain_list_path(path: str) -> bool:
    parts = path.split("/")
    return len(parts) == 4 and parts[1] == "users" and parts[3] == "recommendations" and bool(parts[2])

