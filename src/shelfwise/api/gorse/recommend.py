"""Recommendations: ``GET /recommend/{user}[/{category}]``, ``POST /session/recommend[/{category}]``,
``GET /item/{id}/neighbors[/{category}]``, ``GET /user/{id}/neighbors``.

Every list comes from shelfwise's serving path (its models, the shop's rules, the shopper's
events as they are now), shaped as Gorse shapes it: as Gorse, items the shopper has feedback
on (of any type, dated up to now) are left out unless ``gorse.enable_replacement``, and a
category keeps the items that have it (several ``?category=``: all of them).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import numpy as np
from fastapi import APIRouter, Body, Request

from shelfwise.errors import NotTrained, UnknownId

from .categories import category_rules, request_categories
from .common import (
    READ,
    GorseError,
    GorseRoute,
    PathId,
    engine_of,
    gorse_settings,
    n_offset,
    ok,
    parse_body,
    popular_or_none,
    route,
    scored,
)
from .feedback_store import seen_items
from .ingest import FeedbackIn, parsed_feedback, store_feedback
from .store import user_neighbours

router = APIRouter(route_class=GorseRoute, tags=["gorse: recommendation"])
log = logging.getLogger("shelfwise.api")
_DURATION = re.compile(r"([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|ms|s|m|h))+)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(text: str) -> float:
    """Seconds from a Go duration ("10m", "1h30m", "1.5h", "300ms"); "" is 0."""
    if text in ("", "0"):
        return 0.0
    match = _DURATION.fullmatch(text)
    if match is None:
        raise GorseError(400, f'time: invalid duration "{text}"')
    seconds = sum(float(v) * _UNIT_S[u] for v, u in re.findall(r"(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h)", match[2]))
    return -seconds if match[1] == "-" else seconds


def _or_popular(compute, engine, n: int, rules) -> list:
    """``compute()``, or the popular list when the model is not trained or fails (as
    shelfwise's own routes: a failing model must not take the shop's page down with it)."""
    try:
        return compute()
    except NotTrained:
        return popular_or_none(engine, n, rules)
    except Exception:
        log.exception("the serving model failed; answering /api with the popular list")
        return popular_or_none(engine, n, rules)


@route(router, "GET", "/recommend/{user_id}", "/recommend/{user_id}/{category}", scope=READ,
       summary="Recommend items to a user")
def recommend(user_id: PathId, request: Request, category: str | None = None):
    """A list of item ids, or ``[{Id, Score}]`` when the request says ``X-API-Version: 2``.
    ``write-back-type`` stores each item returned as feedback of that type, dated
    ``write-back-delay`` (a Go duration) from now; it hides the items once that time has come."""
    n, offset = n_offset(request)
    write_back = request.query_params.get("write-back-type", "")
    delay = go_duration(request.query_params.get("write-back-delay", ""))
    engine, settings, now = engine_of(request), gorse_settings(request), time.time()
    rules = category_rules(request, request_categories(request, category))
    recs = []
    if rules is not False:
        seen = set() if settings.enable_replacement else seen_items(engine, user_id, now)
        # exclusion is Gorse's (all feedback up to now), so the shop's exclude_types are off
        exclude, want = (None if settings.enable_replacement else []), offset + n + len(seen)
        recs = _or_popular(lambda: engine.recommend(user_id, n=want, rules=rules, exclude_types=exclude),
                           engine, want, rules)
        recs = [r for r in recs if r.item_id not in seen][offset:offset + n]
    if write_back:
        store_feedback(request, [{"FeedbackType": write_back, "UserId": user_id, "ItemId": r.item_id,
                                  "Value": 0.0, "Timestamp": now + delay, "Comment": ""} for r in recs],
                       overwrite=False, insert_missing=False)
    if request.headers.get("x-api-version") == "2":
        return ok(scored(recs))
    return ok([r.item_id for r in recs])


@route(router, "POST", "/session/recommend", "/session/recommend/{category}", scope=READ,
       summary="Recommend items for an anonymous session of feedback")
def session_recommend(request: Request, category: str | None = None, body: Any = Body(None)):
    """``[{Id, Score}]`` for a shopper given only by the feedback in the body: the feedback
    of positive and read types is the shopper's history (oldest first), and every item in it
    is left out of the list. Nothing is stored."""
    n, offset = n_offset(request)
    feedback = parsed_feedback(parse_body(body, FeedbackIn, many=True))
    engine, settings, now = engine_of(request), gorse_settings(request), time.time()
    rules = category_rules(request, request_categories(request, category))
    if rules is False:
        return ok([])
    # undated feedback keeps the order given, ending now (as shelfwise's session route)
    times = [f["Timestamp"] if f["Timestamp"] is not None else now - (len(feedback) - k) * 1e-3
             for k, f in enumerate(feedback)]
    order = sorted(range(len(feedback)), key=lambda k: times[k])
    history = [k for k in order if settings.behaviour(feedback[k]["FeedbackType"]) is not None]
    seen = {f["ItemId"] for f in feedback}
    items = [feedback[k]["ItemId"] for k in history]
    types = [settings.behaviour(feedback[k]["FeedbackType"]) for k in history]
    when, want = np.array([times[k] for k in history], dtype=np.float64), offset + n + len(seen)
    recs = _or_popular(lambda: engine.recommend_session(items, types, when, n=want, rules=rules, exclude_types=[]),
                       engine, want, rules)
    return ok(scored([r for r in recs if r.item_id not in seen][offset:offset + n]))


@route(router, "GET", "/item/{item_id}/neighbors", "/item/{item_id}/neighbors/{category}", scope=READ,
       summary="Items similar to an item")
def item_neighbors(item_id: PathId, request: Request, category: str | None = None):
    """``[{Id, Score}]`` from the item model (``gorse.neighbors_model``); an item the model
    does not know has none (an empty list, as Gorse's empty cache)."""
    n, offset = n_offset(request)
    engine, settings = engine_of(request), gorse_settings(request)
    rules = category_rules(request, request_categories(request, category))
    if rules is False:
        return ok([])
    models = [settings.neighbors_model] if settings.neighbors_model else [None, "itemknn"]
    for model in models:
        try:
            recs = engine.similar(item_id, n=offset + n, model=model, rules=rules)
            return ok(scored(recs[offset:offset + n]))
        except (UnknownId, NotTrained):
            return ok([])
        except ValueError:  # this model answers no similar-item queries: the next one
            continue
    return ok([])


@route(router, "GET", "/user/{user_id}/neighbors", scope=READ, summary="Users similar to a user")
def user_neighbors(user_id: PathId, request: Request):
    """``[{Id, Score}]``: the users sharing the most positive items with this one (cosine of
    their item sets), from the store as it is now."""
    n, offset = n_offset(request)
    behaviours = gorse_settings(request).positive_behaviours()
    found = user_neighbours(engine_of(request), user_id, behaviours, offset + n)[offset:]
    return ok([{"Id": u, "Score": s} for u, s in found])
