"""Gorse's REST API under ``/api``, answered by shelfwise: a drop-in for shops on Gorse.

    app.include_router(gorse.router)     # in shelfwise.api.app.create_app

Routes, JSON field names, paging, headers and plain-text errors are Gorse's (checked with its
own clients, pygorse and gorsejs); the answers come from shelfwise's store, models, rules
and real-time path, with the same keys as the rest of the API. How Gorse's data maps onto
shelfwise is in ``shelfwise.data.gorse``; what differs from Gorse is in the README's
"Coming from Gorse".

An ``/api`` path no route answers gets Gorse's plain ``404: Page Not Found`` (or ``405:
Method Not Allowed`` when the path exists for another method), not FastAPI's JSON.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from starlette.routing import compile_path

from . import feedback, items, lists, recommend, users
from .common import GorseRoute

_MODULES = (users, items, feedback, recommend, lists)
router = APIRouter(prefix="/api", route_class=GorseRoute)
for _module in _MODULES:
    router.include_router(_module.router)
_ANSWERED = [compile_path(route.path)[0] for m in _MODULES for route in m.router.routes]
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.api_route("/{path:path}", methods=_METHODS, include_in_schema=False)
def not_found(path: str):
    if any(regex.match("/" + path) for regex in _ANSWERED):
        return PlainTextResponse("405: Method Not Allowed", status_code=405)
    return PlainTextResponse("404: Page Not Found", status_code=404)


__all__ = ["router"]
