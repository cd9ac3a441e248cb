"""Items and shoppers: PUT /items/{id}, PUT /users/{id}, DELETE /users/{id} (forget)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from shelfwise.api.deps import Admin, EngineDep, Write
from shelfwise.api.schemas import ForgetOut, ItemIn, UserIn
from shelfwise.data.schemas import Item, User

router = APIRouter(tags=["catalogue"])
IdPath = Annotated[str, Path(min_length=1, max_length=255)]


@router.put("/items/{item_id}", dependencies=[Write], summary="Create or replace an item")
def put_item(item_id: IdPath, body: ItemIn, engine: EngineDep, request: Request) -> dict:
    """Stored before the answer; from then on no list from any server process sharing the
    online state shows the item if it is out of stock (cached lists included)."""
    engine.upsert_items([Item(item_id=item_id, **body.model_dump())])
    request.app.state.online.catalogue_changed()
    return {"item_id": item_id, "stored": True}


@router.put("/users/{user_id}", dependencies=[Write], summary="Create or replace a shopper's profile")
def put_user(user_id: IdPath, body: UserIn, engine: EngineDep) -> dict:
    engine.upsert_users([User(user_id=user_id, **body.model_dump())])  # no consent: no portrait
    return {"user_id": user_id, "stored": True}


@router.delete("/users/{user_id}", response_model=ForgetOut, dependencies=[Admin],
               summary="Forget a shopper: every event and the profile")
def forget_user(user_id: IdPath, engine: EngineDep, request: Request) -> ForgetOut:
    report = engine.forget_user(user_id)
    request.app.state.online.forget(user_id)  # recent items and cached lists, in every process
    return ForgetOut(user_id=user_id, events_deleted=report.events, profile_rows_deleted=report.user_rows)
