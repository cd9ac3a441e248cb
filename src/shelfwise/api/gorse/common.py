"""What every ``/api`` route shares: Gorse's plain-text errors, the key check, query parsing,
opaque cursors and trailing-slash paths.

Gorse (go-restful) answers an error with its text as the body (``user bob not found``), not
JSON; ``GorseRoute`` turns every error raised while answering a route (a ``GorseError``, a
refused key, a body that is not JSON) into such a response, so FastAPI's JSON errors never
reach a Gorse client.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import AfterValidator, BaseModel, StrictStr, StringConstraints, ValidationError

from shelfwise.api.deps import RequireScope
from shelfwise.data.gorse import GorseSettings, settings_of
from shelfwise.data.validation import MalformedInput
from shelfwise.engine import Engine
from shelfwise.errors import NotTrained

MAX_N = 10_000  # longest list or page one request may ask for


def _trimmed(text: str) -> str:
    if text != text.strip():  # shelfwise stores ids trimmed: " a" and "a" would be one shopper
        raise ValueError("must not start or end with white space")
    if "\x00" in text:  # PostgreSQL's text cannot hold one, and no shop's id needs it
        raise ValueError("must not hold a NUL")
    return text


#: an id or name in a body: text of at most 255 characters (the store's column), not padded
BodyId = Annotated[StrictStr, StringConstraints(max_length=255), AfterValidator(_trimmed)]
#: an id or name in a path
PathId = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[^\x00]*$")]


class GorseError(Exception):
    """An error answered as Gorse answers it: ``status`` with ``text`` as a plain body."""

    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.status, self.text = status, text


class GorseRoute(APIRoute):
    """A route whose errors are plain text, as Gorse's."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except GorseError as exc:
                return PlainTextResponse(exc.text, status_code=exc.status)
            except HTTPException as exc:  # the key check: Gorse says only "unauthorized"
                text = "unauthorized" if exc.status_code == 401 else str(exc.detail)
                return PlainTextResponse(text, status_code=exc.status_code, headers=exc.headers)
            except RequestValidationError as exc:  # a body that is not JSON, a path id too long
                first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
                where = ".".join(str(p) for p in first.get("loc", ()))
                return PlainTextResponse(f"{where}: {first.get('msg')}", status_code=400)
            except MalformedInput as exc:  # what the event store refused, by row
                return PlainTextResponse(str(exc).splitlines()[-1].strip(), status_code=400)

        return answer


def need(scope: str):
    """A dependency that checks the request's key (``X-API-Key`` as Gorse sends it, or
    ``Authorization: Bearer``) against shelfwise's keys: 401 ``unauthorized`` without a
    valid one, 403 when the key lacks ``scope``."""
    return Depends(RequireScope(scope))


READ, WRITE, ADMIN = need("read"), need("write"), need("admin")


def route(router: APIRouter, method: str, *paths: str, scope=None, summary: str | None = None):
    """Register the decorated function for ``method`` on each of ``paths`` and on the same
    path with a trailing slash (Gorse's clients call ``/api/recommend/bob/`` when no category
    is given; go-restful does not tell them apart)."""
    def register(endpoint: Callable) -> Callable:
        for path in paths:
            for variant in (path, path + "/"):
                router.add_api_route(variant, endpoint, methods=[method], summary=summary,
                                     dependencies=[scope] if scope is not None else [],
                                     include_in_schema=variant == path)
        return endpoint
    return register


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def gorse_settings(request: Request) -> GorseSettings:
    return settings_of(engine_of(request).settings)


def ok(content: Any) -> JSONResponse:
    return JSONResponse(content)


def success(rows: int) -> JSONResponse:
    return JSONResponse({"RowAffected": int(rows)})


def scored(recs) -> list[dict[str, Any]]:
    """``[{Id, Score}]`` (Gorse's cache.Score) from recommendations; a score that is not a
    finite number (a filler's) is 0."""
    return [{"Id": r.item_id, "Score": float(r.score) if math.isfinite(r.score) else 0.0} for r in recs]


def popular_or_none(engine: Engine, n: int, rules) -> list:
    """The shop's popular list, or none before anything is trained (as Gorse's empty cache)."""
    try:
        return engine.popular(n=n, rules=rules)
    except NotTrained:
        return []


# -- parameters -------------------------------------------------------------------------
def query_int(request: Request, name: PathId, default: int, low: int = 0) -> int:
    """An integer query parameter as Gorse's ``ParseInt`` reads it: absent or empty is
    ``default``, anything else not an integer is a 400."""
    text = request.query_params.get(name, "")
    if text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise GorseError(400, f'strconv.Atoi: parsing "{text}": invalid syntax') from None
    if not low <= value <= MAX_N:
        raise GorseError(400, f"{name} must be in [{low}, {MAX_N}], got {value}")
    return value


def page_size(request: Request) -> int:
    return query_int(request, "n", gorse_settings(request).default_n, low=1)


def n_offset(request: Request) -> tuple[int, int]:
    return query_int(request, "n", gorse_settings(request).default_n, low=1), query_int(request, "offset", 0)


def _finite(value: Any) -> bool:
    """False if a number in the JSON is NaN or infinite (Python's JSON reader takes them)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def parse_body(body: Any, model: type[BaseModel], many: bool) -> list[BaseModel]:
    """The body as ``model`` (a list of them when ``many``); a 400 naming what is wrong."""
    if many and not isinstance(body, list):
        raise GorseError(400, f"json: cannot unmarshal {type(body).__name__} into a list")
    if not _finite(body):
        raise GorseError(400, "json: a number is NaN or infinite")
    try:
        return [model.model_validate(b) for b in (body if many else [body])]
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise GorseError(400, f"{where}: {err['msg']}") from None


# -- cursors ------------------------------------------------------------------------------
def cursor_of(request: Request) -> Any:
    """The decoded ``cursor`` query parameter (gorsejs sends ``Cursor``), or None for the
    first page. A cursor is opaque: URL-safe base64 of the JSON of where the page starts."""
    text = request.query_params.get("cursor") or request.query_params.get("Cursor") or ""
    if not text:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        raise GorseError(400, f"invalid cursor {text!r}") from None


def make_cursor(start: Any) -> str:
    """The cursor of the page starting at ``start``; "" when there is no next page."""
    if start is None:
        return ""
    return base64.urlsafe_b64encode(json.dumps(start).encode()).decode().rstrip("=")


# -- a small time-bounded cache for whole-catalogue reads -----------------------------------
_cache: dict[Any, tuple[float, Any]] = {}
_cache_lock = threading.Lock()
CATALOGUE_TTL_S = 5.0  # as serving's: another process's catalogue change counts within this


def cached(key: Any, compute: Callable[[], Any], seconds: float = CATALOGUE_TTL_S) -> Any:
    """``compute()`` kept for ``seconds`` under ``key`` (callers put the online state's
    catalogue generation in the key, so this process's own writes count at once)."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
    value = compute()
    with _cache_lock:
        if len(_cache) > 256:
            _cache.clear()
        _cache[key] = (now + seconds, value)
    return value


def catalogue_key(request: Request, name: PathId) -> tuple:
    engine = engine_of(request)
    return name, engine.store.url, request.app.state.online.catalogue_generation()
