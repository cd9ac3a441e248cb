"""Users: ``POST /user``, ``POST /users``, ``GET|PATCH|DELETE /user/{id}``, ``GET /users``.

A user is a shelfwise profile row (``shelfwise.data.gorse``). Deleting one forgets the
shopper as shelfwise's ``DELETE /users/{id}`` does (every event, the profile, their lists in
every process), so it needs a key with the ``admin`` scope.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, StrictStr

from shelfwise.data.gorse import gorse_user, user_row
from shelfwise.store.sql import users_table

from .common import (
    ADMIN,
    READ,
    WRITE,
    BodyId,
    GorseError,
    GorseRoute,
    PathId,
    cursor_of,
    engine_of,
    make_cursor,
    ok,
    page_size,
    parse_body,
    route,
    success,
)
from .store import delete_side_user, page, user_rows

router = APIRouter(route_class=GorseRoute, tags=["gorse: users"])


class UserIn(BaseModel):
    model_config = ConfigDict(extra="ignore")  # Subscribe (Gorse before 0.5) is accepted, not kept
    UserId: BodyId = ""
    Labels: Any = None
    Comment: StrictStr | None = ""


class UserPatch(BaseModel):
    """Fields left out (or null) keep their value."""

    model_config = ConfigDict(extra="ignore")
    Labels: Any = None
    Comment: StrictStr | None = None


def _insert(request: Request, users: list[UserIn]) -> int:
    if any(not u.UserId for u in users):
        raise GorseError(400, "UserId is empty")
    engine = engine_of(request)
    stored = user_rows(engine, [u.UserId for u in users])
    engine.store.upsert_users([user_row(u.model_dump(), stored.get(u.UserId)) for u in users])
    return len(users)


@route(router, "POST", "/user", scope=WRITE, summary="Insert a user; overwrite it if it exists")
def insert_user(request: Request, body: Any = Body(None)):
    return success(_insert(request, parse_body(body, UserIn, many=False)))


@route(router, "POST", "/users", scope=WRITE, summary="Insert users; overwrite those that exist")
def insert_users(request: Request, body: Any = Body(None)):
    return success(_insert(request, parse_body(body, UserIn, many=True)))


@route(router, "GET", "/user/{user_id}", scope=READ, summary="Get a user")
def get_user(user_id: PathId, request: Request):
    row = user_rows(engine_of(request), [user_id]).get(user_id)
    if row is None:
        raise GorseError(404, f"user {user_id} not found")
    return ok(gorse_user(row))


@route(router, "PATCH", "/user/{user_id}", scope=WRITE, summary="Modify a user")
def modify_user(user_id: PathId, request: Request, body: Any = Body(None)):
    """As Gorse: fields not given keep their value; a missing user is not an error."""
    patch = parse_body(body, UserPatch, many=False)[0]
    engine = engine_of(request)
    row = user_rows(engine, [user_id]).get(user_id)
    if row is not None:
        user = {**gorse_user(row), **patch.model_dump(exclude_none=True)}
        engine.store.upsert_users([user_row(user, row)])
    return success(1)


@route(router, "DELETE", "/user/{user_id}", scope=ADMIN, summary="Delete a user and all their feedback")
def delete_user(user_id: PathId, request: Request):
    engine = engine_of(request)
    engine.forget_user(user_id, by="gorse")
    delete_side_user(engine, user_id)
    request.app.state.online.forget(user_id)  # recent items and cached lists, in every process
    return success(1)


@route(router, "GET", "/users", scope=READ, summary="Get users by id, a page at a time")
def get_users(request: Request):
    """``{Users, Cursor}``: up to ``n`` users in id order from the ``cursor`` on; ``Cursor``
    is "" on the last page."""
    start = cursor_of(request)
    if start is not None and not isinstance(start, str):
        raise GorseError(400, "invalid cursor")
    rows, following = page(engine_of(request), users_table, start, page_size(request))
    return ok({"Cursor": make_cursor(following), "Users": [gorse_user(r) for r in rows]})
