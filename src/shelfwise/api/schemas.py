"""Bodies and answers of the HTTP API. Every field is bounded, so a bad request is a 422
that names the field, never a 500."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

from fastapi import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
)

from shelfwise.data.schemas import MAX_TIME, EventType, to_epoch_seconds

# no NUL: PostgreSQL's text cannot hold one, and no shop's id needs it
Id = Annotated[str, StringConstraints(min_length=1, max_length=255, strip_whitespace=True, pattern=r"^[^\x00]*$")]
SLASH = "\ue000"  # a private-use character stands for an encoded '/' while routes are matched
IdPath = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[^\x00]*$")]
MAX_BATCH = 10_000


def _not_a_bool(value: Any) -> Any:
    if isinstance(value, bool):  # JSON true would otherwise be read as 1 second after 1970
        raise ValueError("must be Unix seconds or an ISO-8601 time")
    return value


def _seconds(value: float | str) -> float:
    """Unix seconds from a number or ISO-8601 text, within 1970 to 2100 (so a time out of
    range is a 422, and never reaches pandas, whose datetimes end in 2262)."""
    try:
        seconds = to_epoch_seconds(value)
    except (ValueError, OverflowError):
        raise ValueError("must be Unix seconds or an ISO-8601 time") from None
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_TIME:
        raise ValueError("must be between 1970-01-01 and 2100-01-01")
    return seconds


#: an event's time in a body: Unix seconds or ISO-8601 text, read and checked here
Time = Annotated[float | str, BeforeValidator(_not_a_bool), AfterValidator(_seconds)]


class EventIn(BaseModel):
    """One thing a shopper did. ``timestamp`` (Unix seconds or ISO-8601) defaults to the time
    the server received it; ``event_id`` is derived from the content when not given, so
    re-sending the same event stores it once."""

    model_config = ConfigDict(extra="forbid")
    event_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    user_id: Id
    item_id: Id | None = None
    event_type: EventType
    timestamp: Time | None = None
    session_id: Id | None = None
    value: float | None = Field(default=None, allow_inf_nan=False)
    context: dict[str, Any] = Field(default_factory=dict, max_length=50)

    def row(self, received: float) -> dict[str, Any]:
        # built by hand: model_dump is most of the cost of a 1,000-event batch's rows
        return {"event_id": self.event_id, "user_id": self.user_id, "item_id": self.item_id,
                "event_type": self.event_type.value,
                "timestamp": received if self.timestamp is None else self.timestamp,
                "session_id": self.session_id, "value": self.value, "context": dict(self.context)}


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


def _shape(body: Any) -> str:
    return "batch" if isinstance(body, dict) and "events" in body else "one"


#: POST /events takes ``{"events": [...]}`` or one event; errors name the field of the shape sent
EventsBody = Annotated[Annotated[EventBatch, Tag("batch")] | Annotated[EventIn, Tag("one")],
                       Discriminator(_shape)]


class IngestOut(BaseModel):
    received: int
    added: int = Field(description="new events stored; re-sent ids are not added again")
    duplicates: int


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[str, StringConstraints(max_length=2000)] | None = None
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    category: list[Annotated[str, StringConstraints(max_length=255)]] = Field(default_factory=list,
                                                                             max_length=20)
    brand: Annotated[str, StringConstraints(max_length=255)] | None = None
    price: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=100)
    in_stock: bool = True


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attributes: dict[str, Any] = Field(default_factory=dict, max_length=100)
    consent: bool = True


class Scored(BaseModel):
    item_id: str
    score: float
    model: str = Field(description="the model that placed this item")
    reason: str | None = Field(default=None, description="why the item is here, in words")
    source: str = Field(default="ranked", description="ranked, fallback, promoted, pinned or explore")
    sources: dict[str, int] = Field(default_factory=dict,
                                    description="hybrid: the rank each retriever gave the item")
    propensity: float | None = Field(default=None,
                                     description="explore slot: the probability the bandit showed it")
    team: str | None = Field(default=None, description="an interleaving experiment: the variant whose list "
                                                       "placed the item")


class RecommendationsOut(BaseModel):
    recommendation_id: str | None = Field(
        default=None, description="names this list in the impression log: send it as the "
                                  "`recommendation_id` of the context of events that follow it")
    user_id: str | None = None
    item_id: str | None = None
    model: str = Field(description="the model that answered")
    version: str | None = Field(default=None, description="the model version that answered")
    fallback: str | None = Field(default=None, description="why the fallback answered, if it did")
    personalised: bool = Field(
        default=True, description="whether the shopper's own events shaped the list: false for popular and "
                                  "similar-item lists, a shopper with nothing to go on, and a shopper who "
                                  "withholds personalisation consent (PUT /users/{id} with consent false)")
    experiment: str | None = Field(default=None, description="the experiment the list was served in (GET "
                                                             "/experiments/{id})")
    variant: str | None = Field(default=None, description="the shopper's variant in it (A/B tests)")
    items: list[Scored]


class ExplanationOut(BaseModel):
    user_id: str
    item_id: str
    reasons: list[str]


class ForgetOut(BaseModel):
    user_id: str
    events_deleted: int
    profile_rows_deleted: int
    impressions_deleted: int = 0
    versions_tombstoned: int = Field(default=0, description="kept model versions that mapped the shopper")
    audit_id: str = Field(default="", description="the deletion's audit row (no personal data)")
    models_subtracted: list[str] = Field(default_factory=list, description=(
        "models (in any kept version) that took the shopper out exactly: every other shopper's "
        "scores equal a fit without them"))
    models_awaiting_refit: list[str] = Field(default_factory=list, description=(
        "models that dropped the shopper's own rows and keep what they helped learn until the refit"))


class ModelOut(BaseModel):
    name: str
    version: str = Field(description="the training run it serves from")
    trained_at: str
    fit_s: float
    default: bool = Field(description="whether it answers requests that name no model")


class VersionOut(BaseModel):
    version: str
    trained_at: str
    models: list[str]
    serving: list[str] = Field(description="the models this version serves now")
    n_users: int
    n_items: int
    n_events: int
    check: dict[str, Any] | None = Field(default=None, description=(
        "the hold-out check: per model its ndcg@10, the active model's, whether it passed and "
        "why; None for runs made without it"))


def now() -> float:
    return time.time()
