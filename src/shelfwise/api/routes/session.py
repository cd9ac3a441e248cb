"""POST /session/recommendations: an anonymous shopper, given by their events in the body,
scored by the same live path as a known shopper's events from the store."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from shelfwise.api.deps import Read
from shelfwise.api.routes.recommendations import _answer, _check_model, _count_fallback
from shelfwise.api.schemas import MAX_TIME, Id, RecommendationsOut, now
from shelfwise.data.schemas import EventType

router = APIRouter(tags=["recommendations"])
MAX_SESSION = 200


class SessionEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: Id
    event_type: EventType = EventType.view
    timestamp: Annotated[float, Field(ge=0, le=MAX_TIME, allow_inf_nan=False)] | None = Field(
        default=None, description="Unix seconds; default: in the order given, ending now")


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[SessionEvent] = Field(min_length=1, max_length=MAX_SESSION,
                                       description="what the shopper did, oldest first")
    n: int = Field(default=10, ge=1, le=1000, description="list length")
    model: str | None = Field(default=None, max_length=64, description="model; default: the configured one")


@router.post("/session/recommendations", response_model=RecommendationsOut, dependencies=[Read],
             summary="Top-n items for an anonymous shopper's events")
async def session_recommendations(body: SessionIn, request: Request):
    """Nothing is stored. The list is served as for a known shopper with these events (the
    shop's exclude_types, rules and diversity apply); a session with no event on a trained
    item is served as an unknown shopper (popular items), with ``fallback`` saying so."""
    _check_model(body.model)
    engine = request.app.state.engine
    wanted = body.model or engine.settings.default_model
    end = now()
    times = np.array([e.timestamp if e.timestamp is not None else end - (len(body.events) - k) * 1e-3
                      for k, e in enumerate(body.events)])

    def compute():
        return engine.recommend_session([e.item_id for e in body.events],
                                        [e.event_type.value for e in body.events], times, body.n, body.model)

    recs = await run_in_threadpool(compute)  # NotTrained: the app's 409
    reason = recs[0].reason if recs and all(r.source == "fallback" for r in recs) else None
    if reason is not None:
        _count_fallback(request, reason)
    return _answer(recs, wanted, reason)
