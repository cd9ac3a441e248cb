"""Items and shoppers: PUT /items/{id}, PUT /users/{id}, DELETE /users/{id} (forget), GET /privacy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request

from shelfwise.api.deps import Admin, EngineDep, Write
from shelfwise.api.keys import ApiKey
from shelfwise.api.schemas import ForgetOut, IdPath, ItemIn, UserIn
from shelfwise.data.schemas import Item, User

router = APIRouter(tags=["catalogue"])


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


@router.delete("/users/{user_id}", response_model=ForgetOut,
               summary="Forget a shopper: every event, the profile, and their place in every model")
def forget_user(user_id: IdPath, engine: EngineDep, request: Request, key: Annotated[ApiKey, Admin]) -> ForgetOut:
    """At once: the shopper's events, profile and impressions leave the store, every kept model
    version is rewritten without them (``models_subtracted`` exactly; ``models_awaiting_refit``
    without the shopper's own rows), no kept version maps their id, no server process serves
    them from a model it had loaded, and the online state drops them. A training run of every
    serving model without them (which ``shelfwise serve`` starts
    ``privacy.forget_refit_delay_seconds`` later) completes the deletion and deletes the model
    versions no model serves; ``GET /healthz`` shows the deletions waiting for it. The audit
    row (no personal data) is ``audit_id``."""
    report = engine.forget_user(user_id, by=key.key_id)
    request.app.state.online.forget(user_id)  # recent items and cached lists, in every process
    return ForgetOut(user_id=user_id, events_deleted=report.events, profile_rows_deleted=report.user_rows,
                     impressions_deleted=report.impressions, versions_tombstoned=report.versions,
                     audit_id=report.audit_id, models_subtracted=list(report.exact),
                     models_awaiting_refit=list(report.dropped))


@router.get("/privacy", dependencies=[Admin], summary="Consent as stored, and deletions waiting and done")
def privacy(engine: EngineDep) -> dict:
    """``{"consent": {"given", "withheld", "default"}, "forgetting": {"pending", "oldest_seconds",
    "refit_delay_seconds", "audit": [...]}, "published": {"dp_enabled", ...}}`` (``privacy.report``:
    with differential privacy on, the day's budget spent and the last releases); the audit rows
    hold no shopper id."""
    return engine.privacy()
