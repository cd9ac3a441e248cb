"""Lists for everyone: ``GET /latest[/{category}]``, ``GET /popular[/{category}]`` (gorsejs
calls it), ``GET /non-personalized/{name}`` (``latest`` or ``popular``), and the health
probes ``GET /health/live`` and ``/health/ready`` (no key needed, as in Gorse).

All take ``n``, ``offset``, ``?category=`` and ``user-id`` (leave out that user's items).
Popular items are shelfwise's ``popular`` model under the shop's rules (counters moved by
events since its training); latest items are listed items by Gorse timestamp, newest first,
with the Unix time as the score, as Gorse scores them.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .categories import category_rules, in_categories, request_categories
from .common import (
    READ,
    GorseRoute,
    PathId,
    cached,
    catalogue_key,
    engine_of,
    n_offset,
    ok,
    popular_or_none,
    route,
    scored,
)
from .feedback_store import seen_items
from .store import latest, ping

router = APIRouter(route_class=GorseRoute, tags=["gorse: recommendation"])


def _seen(request: Request) -> set[str]:
    user_id = request.query_params.get("user-id", "")
    return seen_items(engine_of(request), user_id, time.time()) if user_id else set()


def _latest(request: Request, category: str | None):
    n, offset = n_offset(request)
    categories, seen = request_categories(request, category), _seen(request)
    rows = cached(catalogue_key(request, "latest"), lambda: latest(engine_of(request)))
    picked = [(item, ts) for item, ts, path in rows
              if item not in seen and (not categories or in_categories(path, categories))]
    return ok([{"Id": item, "Score": ts} for item, ts in picked[offset:offset + n]])


def _popular_list(request: Request, category: str | None):
    n, offset = n_offset(request)
    rules = category_rules(request, request_categories(request, category))
    if rules is False:
        return ok([])
    seen = _seen(request)
    recs = [r for r in popular_or_none(engine_of(request), offset + n + len(seen), rules) if r.item_id not in seen]
    return ok(scored(recs[offset:offset + n]))


@route(router, "GET", "/latest", "/latest/{category}", scope=READ, summary="The latest items")
def get_latest(request: Request, category: str | None = None):
    return _latest(request, category)


@route(router, "GET", "/popular", "/popular/{category}", scope=READ, summary="The most popular items")
def get_popular(request: Request, category: str | None = None):
    return _popular_list(request, category)


@route(router, "GET", "/non-personalized/{name}", scope=READ, summary="A non-personalized list: latest or popular")
def get_non_personalized(name: PathId, request: Request):
    if name == "latest":
        return _latest(request, None)
    if name == "popular":
        return _popular_list(request, None)
    return ok([])  # a recommender Gorse does not have answers as an empty cache


def _health(request: Request) -> dict:
    error = ping(engine_of(request))
    return {"Ready": error is None, "DataStoreError": error, "CacheStoreError": None,
            "DataStoreConnected": error is None, "CacheStoreConnected": True}


@route(router, "GET", "/health/live", summary="Liveness: answers once the server runs")
def live(request: Request):
    return ok(_health(request))


@route(router, "GET", "/health/ready", summary="Readiness: 503 while the store does not answer")
def ready(request: Request):
    status = _health(request)
    return ok(status) if status["Ready"] else JSONResponse(status, status_code=503)
