"""POST /session/recommendations: an anonymous shopper, given by their events in the body,
scored by the same live path as a known shopper's events from the store."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from shelfwise.api.deps import Public
from shelfwise.api.routes.recommendations import ModelChoice, _answer, _name, with_fallback
from shelfwise.api.schemas import Id, RecommendationsOut, Time, now
from shelfwise.data.schemas import EventType

router = APIRouter(tags=["recommendations"])
MAX_SESSION = 200


class SessionEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: Id
    event_type: EventType = EventType.view
    timestamp: Time | None = Field(
        default=None, description="Unix seconds or ISO-8601 text; default: in the order given, ending now")


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[SessionEvent] = Field(min_length=1, max_length=MAX_SESSION,
                                       description="what the shopper did, oldest first")
    n: int = Field(default=10, ge=1, le=1000, description="list length")
    model: ModelChoice | None = Field(default=None, description="model; default: the configured one")


@router.post("/session/recommendations", response_model=RecommendationsOut, dependencies=[Public],
             summary="Top-n items for an anonymous shopper's events")
def session_recommendations(body: SessionIn, request: Request):
    """Nothing is stored but the impression log's record of the list. The list is served as
    for a known shopper with these events (the shop's exclude_types, rules and diversity
    apply); a session with no event on a trained item is served as an unknown shopper
    (popular items), with ``fallback`` saying so."""
    engine = request.app.state.engine
    name = _name(body.model)
    wanted = name or engine.settings.default_model
    end = now()
    times = np.array([e.timestamp if e.timestamp is not None else end - (len(body.events) - k) * 1e-3
                      for k, e in enumerate(body.events)])

    def compute():
        return engine.recommend_session([e.item_id for e in body.events],
                                        [e.event_type.value for e in body.events], times, body.n, name)

    served, reason = with_fallback(engine, request.app.state.metrics, wanted, body.n, compute)
    reason = reason or served.fallback
    if reason is not None:
        request.app.state.metrics.count_fallback(reason)
    return _answer(served, reason)
