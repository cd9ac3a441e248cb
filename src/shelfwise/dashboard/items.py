"""Items: search the catalogue; one item's details, similar items, items bought with it,
its exposure (shown, clicked, bought from the impression log) and the shoppers it goes to."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import HTTPException, Query, Request
from fastapi.responses import RedirectResponse

from shelfwise.api.routes.browse import get_item, list_items
from shelfwise.api.schemas import IdPath
from shelfwise.dashboard import figures
from shelfwise.dashboard.auth import Editor, Viewer, check_csrf
from shelfwise.dashboard.shoppers import served_rows
from shelfwise.dashboard.web import render, router
from shelfwise.data.schemas import Item
from shelfwise.errors import ModelUnavailable, NotTrained, UnknownId

Text = Annotated[str | None, Query(max_length=255)]
N = 8


@router.get("/items")
def items(request: Request, session: Viewer, q: Text = None, cursor: Text = None):
    found = list_items(request.app.state.engine, q or None, cursor or None, limit=25)
    return render(request, "items.html", session, page="items", q=q or "", found=found)


def _list(engine, item_id: str, model: str | None) -> tuple[list[dict], str | None]:
    """Rows of ``Engine.similar`` by ``model``, or why there are none."""
    try:
        rows = served_rows(engine, engine.similar(item_id, N, model))
        return rows, None if rows else f"the {model or engine.settings.default_model} model has no item for it"
    except (NotTrained, ModelUnavailable) as exc:
        return [], str(exc).splitlines()[0]
    except UnknownId:
        return [], "the item is not in the trained catalogue"
    except ValueError as exc:
        return [], str(exc)


@router.get("/items/{item_id}")
def item(request: Request, item_id: IdPath, session: Viewer):
    engine = request.app.state.engine
    try:
        details = get_item(engine, item_id)
    except UnknownId:
        return render(request, "item_missing.html", session, status=404, page="items", item_id=item_id)
    # the default model when it answers similar-item queries (a hybrid does not), else item-kNN
    by = engine.settings.default_model
    similar, similar_note = _list(engine, item_id, by)
    if similar_note and "similar-item" in similar_note:
        by = "itemknn"
        similar, similar_note = _list(engine, item_id, by)
    together, together_note = _list(engine, item_id, "rules")
    return render(request, "item.html", session, page="items", item=details, similar=similar,
                  similar_note=similar_note, together=together, together_note=together_note,
                  exposure=figures.exposure(engine, item_id), similar_by=by)


@router.post("/items/{item_id}/stock")
async def stock(request: Request, item_id: IdPath, session: Editor):
    """Mark a catalogue item out of stock or back in stock (as ``PUT /items/{id}`` with its
    other fields kept): no list from any process sharing the online state shows it while out."""
    form = await check_csrf(request, session)
    wanted = form.get("in_stock")
    if wanted not in ("yes", "no"):
        raise HTTPException(422, "in_stock: yes or no")
    engine = request.app.state.engine
    details = get_item(engine, item_id)  # UnknownId: 404
    if not details["in_catalogue"]:
        raise HTTPException(409, f"item_id: {item_id} is not in the catalogue (only named by events)")
    engine.upsert_items([Item(**{k: details[k] for k in Item.model_fields if k != "in_stock"},
                              in_stock=wanted == "yes")])
    request.app.state.online.catalogue_changed()
    return RedirectResponse(f"/dashboard/items/{quote(item_id, safe='')}", status_code=303)
