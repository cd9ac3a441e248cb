"""The FastAPI app: routers joined, errors mapped to 4xx, every request counted and timed.

    app = create_app(Settings(home="shop"))   # uvicorn.run(app) -- or `shelfwise serve`
"""

from __future__ import annotations

import contextlib
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from shelfwise import __version__
from shelfwise.api.keys import KeyStore
from shelfwise.api.metrics import Metrics
from shelfwise.api.routes import catalogue, events, health, models, recommendations
from shelfwise.config import Settings
from shelfwise.data.validation import MalformedInput
from shelfwise.engine import Engine
from shelfwise.errors import NoData, NotTrained, UnknownId

MAX_BODY = 1 << 20  # bytes
SHAPE_TAGS = {"one", "batch"}  # the tags of POST /events' two body shapes, not field names


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    engine = engine or Engine(settings or Settings.from_env())
    app = FastAPI(title="shelfwise", version=__version__,
                  description="Personalised recommendations for an online shop. Send an API key "
                              "as `Authorization: Bearer <key>` (create one with `shelfwise keys create`).")
    app.state.engine = engine
    app.state.keys = KeyStore(engine.store.engine)
    app.state.metrics = Metrics()
    app.state.training = None
    _warm(engine)
    for module in (events, catalogue, recommendations, models, health):
        app.include_router(module.router)
    _errors(app)
    _observe(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    return app


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with a 413, however it is sent: a declared
    Content-Length, or chunks counted as they arrive (the body is held until complete,
    which is at most ``limit`` bytes)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        messages, size, more = [], 0, True
        while more:
            message = await receive()
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
    """Load the serving models before the first request rather than during it."""
    for name in dict.fromkeys([engine.settings.default_model, "popular"]):
        with contextlib.suppress(NotTrained):
            engine.versions.load(name)


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


def _observe(app: FastAPI) -> None:
    @app.middleware("http")
    async def count_and_limit(request: Request, call_next):
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        app.state.metrics.latency.labels(request.method, path).observe(time.perf_counter() - start)
        route = request.scope.get("route")
        app.state.metrics.requests.labels(request.method, getattr(route, "path", "unmatched"),
                                          str(response.status_code)).inc()
        return response
