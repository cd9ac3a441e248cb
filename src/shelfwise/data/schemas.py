"""Pydantic schemas for what a shop sends: events, items, users.

Events are also handled in bulk as pandas frames with the columns of ``EVENT_COLUMNS``;
``validate_event_frame`` applies the same rules as ``Event`` to a whole frame at once, so a
million-row import does not build a million pydantic objects.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class EventType(StrEnum):
    view = "view"
    click = "click"
    favorite = "favorite"
    cart = "cart"
    remove_from_cart = "remove_from_cart"
    purchase = "purchase"
    review = "review"
    search = "search"


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)

#: Default confidence each behaviour contributes to the user x item matrix. ``review`` uses
#: the event's rating (``value``) when present, else this fallback.
DEFAULT_BEHAVIOUR_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "click": 1.0,
    "favorite": 2.0,
    "cart": 3.0,
    "remove_from_cart": 0.0,
    "purchase": 5.0,
    "review": 3.0,
    "search": 0.0,
}
#: Canonical event frame columns, in store order.
EVENT_COLUMNS = (
    "event_id", "user_id", "item_id", "event_type", "timestamp", "session_id", "value", "context",
)


#: Unix seconds an event's time may take (1970-01-01 to 2100-01-01): a later "time" is a unit
#: mistake (milliseconds), and pandas' datetimes end in 2262
MIN_TIME, MAX_TIME = 0.0, 4_102_444_800.0


def to_epoch_seconds(value: Any) -> float:
    """Unix seconds (float) from a number, an ISO-8601 string or a datetime."""
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return dt.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ValueError("timestamp must be finite")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return to_epoch_seconds(dt)
    raise ValueError(f"cannot read a timestamp from {value!r}")


def context_dict(value: Any) -> dict:
    """An event's context as a dict, whether given as one or stored as JSON text; {} for
    anything else (empty, malformed, or JSON that is not an object)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


class Event(BaseModel):
    """One thing a shopper did. ``event_id`` is derived from the content when not given, so
    sending the same event twice stores it once."""

    model_config = ConfigDict(extra="forbid")

    event_id: str | None = None
    user_id: str = Field(min_length=1)
    item_id: str | None = None
    event_type: EventType
    timestamp: float
    session_id: str | None = None
    value: float | None = None
    # personal: stored encrypted when a data key is configured (``store.fields``)
    context: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"personal": True})

    @field_validator("user_id", "item_id", "session_id", mode="before")
    @classmethod
    def _ids_are_text(cls, v: Any) -> Any:
        if v is None or isinstance(v, str):
            return v.strip() if isinstance(v, str) else v
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        raise ValueError("ids must be strings or integers")

    @field_validator("timestamp", mode="before")
    @classmethod
    def _parse_timestamp(cls, v: Any) -> float:
        return to_epoch_seconds(v)

    @model_validator(mode="after")
    def _check_item_and_id(self) -> Event:
        if not self.item_id and self.event_type != EventType.search:
            raise ValueError(f"item_id is required for a {self.event_type.value} event")
        if self.event_type == EventType.search and not (self.item_id or self.context.get("query")):
            raise ValueError("a search event needs an item_id or context['query']")
        if self.event_id is None:
            self.event_id = derive_event_id(
                self.user_id, self.item_id, self.event_type.value, self.timestamp,
                self.session_id, self.value,
            )
        return self


def _key(user_id, item_id, event_type, timestamp, session_id, value) -> str:
    # repr(float) round-trips exactly, so the same event always gives the same key.
    return "\x1f".join((
        str(user_id), "" if item_id is None else str(item_id), str(event_type),
        repr(float(timestamp)), "" if session_id is None else str(session_id),
        "" if value is None or (isinstance(value, float) and math.isnan(value)) else repr(float(value)),
    ))


def derive_event_id(user_id, item_id, event_type, timestamp, session_id=None, value=None) -> str:
    """A 128-bit content hash (32 hex chars): identical events get identical ids."""
    return hashlib.blake2b(
        _key(user_id, item_id, event_type, timestamp, session_id, value).encode(), digest_size=16
    ).hexdigest()


def derive_event_ids(frame: pd.DataFrame) -> np.ndarray:
    """``derive_event_id`` for every row of a canonical event frame; shape (n_rows,).

    Same keys as ``_key``, built a column at a time: the per-row work is one join and one
    hash, which keeps bulk imports above 100k events/s.
    """
    def text(col: str) -> list[str]:
        s = frame[col]
        return ["" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                else str(v) for v in s.tolist()]

    def number(col: str, blank_missing: bool) -> list[str]:
        x = pd.to_numeric(frame[col], errors="raise").astype("float64")
        out = list(map(repr, x.tolist()))  # python floats: repr round-trips exactly
        if blank_missing:
            out = ["" if m else v for v, m in zip(out, x.isna().tolist(), strict=True)]
        return out

    cols = [text("user_id"), text("item_id"), text("event_type"),
            number("timestamp", False), text("session_id"), number("value", True)]
    blake = hashlib.blake2b
    return np.array([blake(k.encode(), digest_size=16).hexdigest()
                     for k in map("\x1f".join, zip(*cols, strict=True))], dtype=object)


class Item(BaseModel):
    """A catalogue entry. ``category`` is a path from the root, e.g. ["Beauty", "Skin", "Creams"]."""

    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1)
    title: str | None = None
    description: str | None = None
    category: list[str] = Field(default_factory=list)
    brand: str | None = None
    price: float | None = Field(default=None, ge=0)
    attributes: dict[str, Any] = Field(default_factory=dict)
    in_stock: bool = True

    @field_validator("category", mode="before")
    @classmethod
    def _split_path(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(">") if p.strip()]
        return [] if v is None else v


class User(BaseModel):
    """A shopper. Personalisation is used only while ``consent`` is true."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1)
    attributes: dict[str, Any] = Field(default_factory=dict, json_schema_extra={"personal": True})
    consent: bool = True
