"""Shopper portraits, segments, audiences and campaigns: GET /users/{id}/profile, GET /segments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from shelfwise.api.deps import EngineDep, Read

router = APIRouter(tags=["marketing"])
IdPath = Annotated[str, Path(min_length=1, max_length=255)]


@router.get("/users/{user_id}/profile", dependencies=[Read], summary="A shopper's portrait")
def profile(user_id: IdPath, engine: EngineDep) -> dict[str, Any]:
    """Category and brand affinities, price band and sensitivity, RFM, activity and life-cycle
    stage, preferred hours and days, the predicted next category (and the segment, once the
    shop is segmented), as of the newest event in the store. 404 for a shopper without
    events or without consent."""
    return engine.profile(user_id)
