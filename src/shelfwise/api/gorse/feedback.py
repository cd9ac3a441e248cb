"""Feedback: ``POST /feedback`` (a key already stored is kept), ``PUT /feedback`` (it is
overwritten), ``GET /feedback[/{type}]`` (pages), ``GET|DELETE /feedback/{user}/{item}``,
``GET|DELETE /feedback/{type}/{user}/{item}``, ``GET /user/{id}/feedback[/{type}]``,
``GET /item/{id}/feedback[/{type}]``.

Reads answer one row per (type, user, item), collapsing the event log (``feedback_store``).
As Gorse, the listings leave out feedback dated in the future (written back with a delay)
until its time; the user-item routes show it.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Body, Request

from shelfwise.data.schemas import EVENT_TYPES

from .common import (
    READ,
    WRITE,
    GorseError,
    GorseRoute,
    PathId,
    cursor_of,
    engine_of,
    gorse_settings,
    make_cursor,
    ok,
    page_size,
    parse_body,
    route,
    success,
)
from .feedback_store import delete_feedback, feedback_of, page_feedback
from .ingest import FeedbackIn, parsed_feedback, store_feedback

router = APIRouter(route_class=GorseRoute, tags=["gorse: feedback"])


def _insert(request: Request, body: Any, overwrite: bool):
    feedback = parsed_feedback(parse_body(body, FeedbackIn, many=True))
    store_feedback(request, feedback, overwrite=overwrite)
    return success(len(feedback))  # as Gorse: every row sent, stored anew or not


@route(router, "POST", "/feedback", scope=WRITE, summary="Insert feedback; a row already stored is kept")
def insert_feedback(request: Request, body: Any = Body(None)):
    return _insert(request, body, overwrite=False)


@route(router, "PUT", "/feedback", scope=WRITE, summary="Insert feedback; a row already stored is overwritten")
def upsert_feedback(request: Request, body: Any = Body(None)):
    return _insert(request, body, overwrite=True)


def _page(request: Request, feedback_type: str | None):
    start = cursor_of(request)
    if start is not None and not (isinstance(start, list) and len(start) == 3
                                  and all(isinstance(s, str) for s in start)):
        raise GorseError(400, "invalid cursor")
    event_types = None
    if feedback_type is not None:  # the behaviours whose events can be feedback of this type
        behaviour = gorse_settings(request).behaviour(feedback_type)
        event_types = sorted({b for b in (behaviour, feedback_type) if b in EVENT_TYPES})
    rows, following = page_feedback(engine_of(request), start, page_size(request), feedback_type,
                                    event_types, until=time.time())
    return ok({"Cursor": make_cursor(list(following) if following else None),
               "Feedback": [r.feedback for r in rows]})


@route(router, "GET", "/feedback", scope=READ, summary="Get feedback, a page at a time")
def get_feedback(request: Request):
    """``{Feedback, Cursor}``, ordered by (user, item, type); ``Cursor`` is "" on the last page."""
    return _page(request, None)


@route(router, "GET", "/feedback/{feedback_type}", scope=READ, summary="Get feedback of a type, a page at a time")
def get_typed_feedback(feedback_type: PathId, request: Request):
    return _page(request, feedback_type)


@route(router, "GET", "/feedback/{user_id}/{item_id}", scope=READ,
       summary="Get the feedback between a user and an item")
def get_user_item_feedback(user_id: PathId, item_id: PathId, request: Request):
    return ok([r.feedback for r in feedback_of(engine_of(request), user_id, item_id)])


def _deleted(request: Request, user_id: str, item_id: str, feedback_type: str | None):
    count = delete_feedback(engine_of(request), user_id, item_id, feedback_type)
    if count:  # the shopper's cached lists, in every process, and their portrait from what is left
        request.app.state.online.accept([(user_id, None, 0.0)], None, False)
        engine_of(request).portraits.rebuild([user_id])
    return success(count)


@route(router, "DELETE", "/feedback/{user_id}/{item_id}", scope=WRITE,
       summary="Delete the feedback between a user and an item")
def delete_user_item_feedback(user_id: PathId, item_id: PathId, request: Request):
    return _deleted(request, user_id, item_id, None)


@route(router, "GET", "/feedback/{feedback_type}/{user_id}/{item_id}", scope=READ,
       summary="Get the feedback of a type between a user and an item")
def get_typed_user_item_feedback(feedback_type: PathId, user_id: PathId, item_id: PathId, request: Request):
    rows = [r for r in feedback_of(engine_of(request), user_id, item_id) if r.key[2] == feedback_type]
    if not rows:
        raise GorseError(404, f"feedback {feedback_type} of user {user_id} on item {item_id} not found")
    return ok(rows[0].feedback)


@route(router, "DELETE", "/feedback/{feedback_type}/{user_id}/{item_id}", scope=WRITE,
       summary="Delete the feedback of a type between a user and an item")
def delete_typed_user_item_feedback(feedback_type: PathId, user_id: PathId, item_id: PathId, request: Request):
    return _deleted(request, user_id, item_id, feedback_type)


def _listed(request: Request, feedback_type: str | None, **who: str):
    now = time.time()
    rows = feedback_of(engine_of(request), **who)
    return ok([r.feedback for r in rows
               if r.timestamp <= now and (feedback_type is None or r.key[2] == feedback_type)])


@route(router, "GET", "/user/{user_id}/feedback", scope=READ, summary="Get a user's feedback")
def get_user_feedback(user_id: PathId, request: Request):
    return _listed(request, None, user_id=user_id)


@route(router, "GET", "/user/{user_id}/feedback/{feedback_type}", scope=READ, summary="Get a user's feedback of a type")
def get_typed_user_feedback(user_id: PathId, feedback_type: PathId, request: Request):
    return _listed(request, feedback_type, user_id=user_id)


@route(router, "GET", "/item/{item_id}/feedback", scope=READ, summary="Get the feedback on an item")
def get_item_feedback(item_id: PathId, request: Request):
    return _listed(request, None, item_id=item_id)


@route(router, "GET", "/item/{item_id}/feedback/{feedback_type}", scope=READ,
       summary="Get the feedback of a type on an item")
def get_typed_item_feedback(item_id: PathId, feedback_type: PathId, request: Request):
    return _listed(request, feedback_type, item_id=item_id)
