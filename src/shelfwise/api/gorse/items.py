"""Items: ``POST /item``, ``POST /items``, ``GET|PATCH|DELETE /item/{id}``, ``GET /items``
(``?n=&cursor=``, or ``?q=`` to search), ``PUT|DELETE /item/{id}/category/{category}``.

An item is a catalogue row (``shelfwise.data.gorse``): a change binds the next list at once
(hidden = out of stock, in every process sharing the online state); categories and other
fields bind lists from the next training, as any catalogue change in shelfwise does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

from shelfwise.data.gorse import gorse_item, item_row, item_timestamp, parse_time
from shelfwise.store.sql import items_table

from .common import (
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
from .store import delete_item, item_rows, page

router = APIRouter(route_class=GorseRoute, tags=["gorse: items"])


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    ItemId: BodyId = ""
    IsHidden: StrictBool = False
    Categories: list[BodyId] | None = None
    Timestamp: StrictStr | float | None = ""
    Labels: Any = None
    Comment: StrictStr | None = ""


class ItemPatch(BaseModel):
    """Fields left out (or null) keep their value."""

    model_config = ConfigDict(extra="ignore")
    IsHidden: StrictBool | None = None
    Categories: list[BodyId] | None = None
    Timestamp: StrictStr | float | None = None
    Labels: Any = None
    Comment: StrictStr | None = None


def _time(value: Any) -> float | None:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise GorseError(400, str(exc)) from None


def _editable(row: dict[str, Any]) -> dict[str, Any]:
    """A stored item as Gorse's Item with ``Timestamp`` in Unix seconds (None: never set)."""
    return {**gorse_item(row), "Timestamp": item_timestamp(row["attributes"])}


def _store(request: Request, rows: list[dict[str, Any]]) -> None:
    """Upsert catalogue rows, binding the next list in every process at once."""
    engine_of(request).store.upsert_items(rows)
    request.app.state.online.catalogue_changed()


def _insert(request: Request, items: list[ItemIn]) -> int:
    """Insert or overwrite items, keeping each stored item's shelfwise-only fields."""
    if any(not i.ItemId for i in items):
        raise GorseError(400, "ItemId is empty")
    stored = item_rows(engine_of(request), [i.ItemId for i in items])
    _store(request, [item_row({**i.model_dump(), "Timestamp": _time(i.Timestamp)}, stored.get(i.ItemId))
                     for i in items])
    return len(items)


@route(router, "POST", "/item", scope=WRITE, summary="Insert an item; overwrite it if it exists")
def insert_item(request: Request, body: Any = Body(None)):
    return success(_insert(request, parse_body(body, ItemIn, many=False)))


@route(router, "POST", "/items", scope=WRITE, summary="Insert items; overwrite those that exist")
def insert_items(request: Request, body: Any = Body(None)):
    return success(_insert(request, parse_body(body, ItemIn, many=True)))


@route(router, "GET", "/item/{item_id}", scope=READ, summary="Get an item")
def get_item(item_id: PathId, request: Request):
    row = item_rows(engine_of(request), [item_id]).get(item_id)
    if row is None:
        raise GorseError(404, f"item {item_id} not found")
    return ok(gorse_item(row))


@route(router, "PATCH", "/item/{item_id}", scope=WRITE, summary="Modify an item")
def modify_item(item_id: PathId, request: Request, body: Any = Body(None)):
    """As Gorse: fields not given keep their value, and a missing item is not an error
    (nothing is changed)."""
    patch = parse_body(body, ItemPatch, many=False)[0]
    row = item_rows(engine_of(request), [item_id]).get(item_id)
    if row is not None:
        item = {**_editable(row), **patch.model_dump(exclude_none=True)}
        if patch.Timestamp is not None:
            item["Timestamp"] = _time(patch.Timestamp)
        _store(request, [item_row(item, row)])
    return success(1)


@route(router, "DELETE", "/item/{item_id}", scope=WRITE, summary="Delete an item and its feedback")
def remove_item(item_id: PathId, request: Request):
    delete_item(engine_of(request), item_id)
    request.app.state.online.catalogue_changed()
    return success(1)


def _category(request: Request, item_id: str, change) -> Any:
    row = item_rows(engine_of(request), [item_id]).get(item_id)
    if row is None:
        raise GorseError(404, f"item {item_id} not found")
    item = _editable(row)
    item["Categories"] = change(item["Categories"])
    _store(request, [item_row(item, row)])
    return success(1)


@route(router, "PUT", "/item/{item_id}/category/{category}", scope=WRITE, summary="Add a category to an item")
def insert_item_category(item_id: PathId, category: PathId, request: Request):
    return _category(request, item_id, lambda cats: cats if category in cats else [*cats, category])


@route(router, "DELETE", "/item/{item_id}/category/{category}", scope=WRITE,
       summary="Remove a category from an item")
def delete_item_category(item_id: PathId, category: PathId, request: Request):
    return _category(request, item_id, lambda cats: [c for c in cats if c != category])


@route(router, "GET", "/items", scope=READ, summary="Get items by id, a page at a time, or search them")
def get_items(request: Request):
    """``{Items, Cursor}``: up to ``n`` items in id order from the ``cursor`` on; ``Cursor``
    is "" on the last page. ``q``: only items whose id, comment (title), description or
    categories hold every word of it."""
    n = page_size(request)
    start = cursor_of(request)
    if start is not None and not isinstance(start, str):
        raise GorseError(400, "invalid cursor")
    words = request.query_params.get("q", "").split()
    rows, following = page(engine_of(request), items_table, start, n, words)
    return ok({"Cursor": make_cursor(following), "Items": [gorse_item(r) for r in rows]})
