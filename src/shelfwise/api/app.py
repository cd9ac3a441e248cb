"""The FastAPI app: routers joined, errors mapped to 4xx, every request counted and timed.

    app = create_app(Settings(home="shop"))   # uvicorn.run(app) -- or `shelfwise serve`
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from urllib.parse import unquote

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from shelfwise import __version__, dashboard
from shelfwise.api import gorse, openapi, tokens
from shelfwise.api.commit import GroupCommit
from shelfwise.api.deps import Guard
from shelfwise.api.keys import KeyStore
from shelfwise.api.metrics import Metrics
from shelfwise.api.online import CachedLists
from shelfwise.api.precompute import Precompute
from shelfwise.api.ratelimit import Limiter
from shelfwise.api.routes import (
    browse,
    catalogue,
    events,
    experiments,
    health,
    marketing,
    models,
    recommendations,
    session,
)
from shelfwise.api.routes import tokens as token_routes
from shelfwise.api.schemas import SLASH
from shelfwise.config import Settings
from shelfwise.data.validation import MalformedInput
from shelfwise.engine import Engine
from shelfwise.errors import NoData, NotTrained, UnknownId
from shelfwise.online.state import open_state
from shelfwise.privacy import pseudonyms
from shelfwise.serving import one_core_per_request
from shelfwise.store.fields import DataKeyError

MAX_BODY = 1 << 20  # bytes
SHAPE_TAGS = {"one", "batch"}  # the tags of POST /events' two body shapes, not field names
SETTINGS_ENV = "SHELFWISE_SERVE_SETTINGS"


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    """Background chores of a serving process: precomputed lists (``online.precompute_seconds``)."""
    if app.state.engine.settings.online.precompute_seconds > 0:
        app.state.precompute = Precompute(app)
        app.state.precompute.start()
    try:
        yield
    finally:
        if app.state.precompute is not None:
            app.state.precompute.stop()
        if app.state.engine.impressions is not None:
            app.state.engine.impressions.flush()  # what was shown is written before the process ends


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    engine = engine or Engine(settings or Settings.from_env())
    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from the installed package,
    # not a CDN (a shop's admin network may be closed)
    app = FastAPIOffline(title="shelfwise", version=__version__, lifespan=_lifespan,
                         dependencies=[Depends(restore_slashes)],
                         description="Personalised recommendations for an online shop. Send an API key as "
                                     "`Authorization: Bearer <key>` (create one with `shelfwise keys create`), "
                                     "or a shopper token from `POST /tokens`. Each operation names the key "
                                     "scope it needs (`security`) and every status it may answer; a 429 "
                                     "says when to come back in `Retry-After`.")
    serve = engine.settings.serve
    app.state.engine = engine
    pseudonyms.install(pseudonyms.Pseudonyms.from_settings(engine.settings))  # no shopper id in a log line
    app.state.keys = KeyStore(engine.store.engine, cache_seconds=serve.key_cache_seconds)
    app.state.guard = Guard(app.state.keys, Limiter(serve, engine.settings.online.url,
                                                    engine.settings.online.namespace),
                            tokens.token_secret(engine.settings))
    app.state.metrics = Metrics()
    app.state.training = None
    app.state.precompute = None
    app.state.online = engine.online = open_state(engine.settings.online)
    app.state.commit = GroupCommit(engine.store, engine.accepted,
                                   window_s=serve.group_commit_ms / 1000)
    _warm(engine)
    for module in (events, catalogue, recommendations, session, models, health, browse, marketing, experiments,
                   token_routes):
        app.include_router(module.router)
    app.include_router(gorse.router)  # Gorse's REST API under /api, over the same Engine
    dashboard.mount(app)  # the pages at /dashboard
    _errors(app)
    openapi.document(app)  # every status and error body a route answers, and its key scope
    app.add_middleware(CachedLists, state_app=app)
    app.add_middleware(Observe, metrics=app.state.metrics)
    app.add_middleware(BodyLimit, limit=MAX_BODY, timeout_s=serve.body_timeout_seconds)
    app.add_middleware(EncodedSlashes)
    return app


def create_app_from_env() -> FastAPI:
    """The app for ``serve --workers N``: each worker process builds it from the settings the
    CLI resolved, passed as JSON in ``SHELFWISE_SERVE_SETTINGS``."""
    return create_app(Settings(**json.loads(os.environ[SETTINGS_ENV])))


class Observe:
    """Count and time every request by method, route template and status (pure ASGI, so it
    costs microseconds, not a task per request)."""

    def __init__(self, app, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]

        async def sent(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(scope["method"], path).observe(time.perf_counter() - start)
            self.metrics.requests.labels(scope["method"], path, str(status[0])).inc()


class EncodedSlashes:
    """Let an id that holds a '/' be addressed by its encoded form (``/users/guest%2F42``):
    the server decodes ``%2F`` before routing, so such a path would match no route. An encoded
    slash is carried through routing as ``SLASH`` and given back as '/' in the path
    parameters (``restore_slashes``)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        raw = scope.get("raw_path") or b""
        if scope["type"] == "http" and b"%2f" in raw.lower():
            path = "/".join(unquote(part).replace("/", SLASH) for part in raw.decode("ascii", "replace").split("/"))
            scope = {**scope, "path": path}
        return await self.app(scope, receive, send)


async def restore_slashes(request: Request) -> None:
    """A dependency of every route, solved before the route's own path parameters are read:
    they read '/' where ``EncodedSlashes`` put ``SLASH``."""
    params = request.scope.get("path_params") or {}
    if any(isinstance(v, str) and SLASH in v for v in params.values()):
        request.scope["path_params"] = {k: v.replace(SLASH, "/") if isinstance(v, str) else v
                                        for k, v in params.items()}


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with a 413, however it is sent: a declared
    Content-Length (refused before a byte is read), or chunks counted as they arrive (the
    body is held until complete, which is at most ``limit`` bytes). A body that has not
    arrived ``timeout_s`` after the request began is a 408: a client that declares a body
    and sends nothing does not hold its connection and a worker thread."""

    def __init__(self, app, limit: int, timeout_s: float = 10.0):
        self.app, self.limit, self.timeout_s = app, limit, timeout_s

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            response = JSONResponse({"detail": f"body: at most {self.limit} bytes"}, status_code=413,
                                    headers={"connection": "close"})
            return await response(scope, receive, send)
        messages, size, more = [], 0, True
        deadline = anyio.current_time() + self.timeout_s
        while more:
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())) as waited:
                message = await receive()
            if waited.cancelled_caught:
                response = JSONResponse({"detail": f"body: not received within {self.timeout_s:g} s"},
                                        status_code=408, headers={"connection": "close"})
                return await response(scope, receive, send)
            messages.append(message)
            size += len(message.get("body", b""))
            more = message["type"] == "http.request" and message.get("more_body", False)
            if size > self.limit:
                response = JSONResponse({"detail": f"body: at most {self.limit} bytes"}, status_code=413)
                return await response(scope, receive, send)

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)


def _warm(engine: Engine) -> None:
    """Load the serving models, and compile the shop's rules against their catalogues (a
    second or more at 100k items), before the first request rather than during it."""
    for name in dict.fromkeys([engine.settings.default_model, "popular"]):
        with contextlib.suppress(NotTrained):
            _, view, _ = engine.pipeline.source.load(name)
            engine.pipeline.compiled(view, None)
    one_core_per_request()  # after the models' libraries are loaded, so their pools count


def _errors(app: FastAPI) -> None:
    def handler(status: int):
        async def respond(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(exc).splitlines()[0] if str(exc) else type(exc).__name__},
                                status_code=status)
        return respond

    async def malformed(request: Request, exc: MalformedInput) -> JSONResponse:
        # rows are numbered from 1 in the order sent; the API names them as list positions
        return JSONResponse({"detail": [{"loc": ["body", "events", e.line - 1, e.field], "msg": e.message}
                                        for e in exc.errors]}, status_code=422)

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # name the field and say what is wrong, without echoing the input back: a rejected
        # batch can be megabytes, and a non-finite number cannot even be written as JSON
        detail = [{"loc": [p for p in e["loc"] if p not in SHAPE_TAGS], "msg": e["msg"], "type": e["type"]}
                  for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    app.add_exception_handler(MalformedInput, malformed)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(UnknownId, handler(404))
    app.add_exception_handler(NotTrained, handler(409))
    app.add_exception_handler(NoData, handler(409))
    # the server's data key cannot read a stored field: its configuration, not the request
    app.add_exception_handler(DataKeyError, handler(503))


