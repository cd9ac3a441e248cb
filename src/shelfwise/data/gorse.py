"""Gorse's data model in shelfwise's terms, shared by the ``/api`` routes and the loader.

Gorse (gorse-io/gorse) keeps users, items and one feedback row per (type, user, item). Here:

- a **feedback type** maps to a shelfwise behaviour through ``GorseSettings`` (Gorse's
  ``positive_feedback_types`` / ``read_feedback_types``; ``behaviours`` names the shelfwise
  event type, e.g. ``star`` -> ``favorite``). Such feedback is an *event* whose id is derived
  from (type, user, item), so re-sending it stores it once, as Gorse does. Negative and
  unknown types are not events (shelfwise has no behaviour to train them as): the API keeps
  them in a side table of its own.
- an **item** is a catalogue row: ``Categories`` is the category path (Gorse's categories
  are a flat set; the first acts as the root), ``Comment`` the title, ``IsHidden`` the
  opposite of ``in_stock`` (so a hidden item is never listed), ``Labels`` the attributes
  (a Labels object is the attributes themselves, any other JSON value is kept under
  ``LABELS_KEY``), the Gorse ``Timestamp`` under ``TIMESTAMP_KEY``.
- a **user** is a profile row: Labels as for items, ``Comment`` under ``COMMENT_KEY``.

Timestamps are read as leniently as Gorse's ``dateparse.ParseAny`` and written as Go writes
``time.Time`` (RFC 3339, UTC, fraction without trailing zeros).
"""

from __future__ import annotations

import hashlib
import re
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shelfwise.data.schemas import EVENT_TYPES, MAX_TIME, MIN_TIME

LABELS_KEY = "gorse.labels"  # attributes key of Labels that are not a JSON object
TIMESTAMP_KEY = "gorse.timestamp"  # an item's Gorse Timestamp (RFC 3339)
COMMENT_KEY = "gorse.comment"  # a user's Comment
META_KEYS = frozenset({TIMESTAMP_KEY, COMMENT_KEY})
GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # what Go writes for a time never set
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO_S = datetime(1, 1, 1, tzinfo=UTC).timestamp()  # Go's zero time in Unix seconds
_NUMERIC = re.compile(r"\d+(\.\d+)?")


class GorseSettings(BaseModel):
    """How Gorse's feedback types and options map onto shelfwise (``[gorse]`` in the TOML).

    A type in ``positive_feedback_types`` or ``read_feedback_types`` is stored as the
    shelfwise behaviour ``behaviours[type]`` (a type that is itself a behaviour name maps to
    itself); ``negative_feedback_types`` and any other type are stored by the API and ignored
    in training, as Gorse ignores unknown types."""

    model_config = ConfigDict(extra="forbid")

    positive_feedback_types: list[str] = Field(
        default_factory=lambda: ["star", "like", "click", "favorite", "cart", "purchase"],
        description="Gorse's positive feedback types (recommend.data_source)")
    read_feedback_types: list[str] = Field(default_factory=lambda: ["read", "view"],
                                           description="Gorse's read feedback types")
    negative_feedback_types: list[str] = Field(
        default_factory=list, description="stored, hide the item from the shopper, not trained on")
    behaviours: dict[str, str] = Field(
        default_factory=lambda: {"star": "favorite", "like": "favorite", "read": "view"},
        description="feedback type -> shelfwise behaviour (types named like a behaviour map to it)")
    auto_insert_user: bool = Field(default=True, description="feedback creates missing users (server)")
    auto_insert_item: bool = Field(default=True, description="feedback creates missing items (server)")
    enable_replacement: bool = Field(
        default=False, description="keep items the shopper has feedback on eligible (recommend.replacement); "
                                   "then the shop's exclude_types apply")
    default_n: int = Field(default=10, ge=1, le=10_000, description="list length when n is not given (server)")
    neighbors_model: str | None = Field(
        default=None, description="model answering item neighbours; None: the default model, or itemknn "
                                  "when it answers no similar-item queries")

    @model_validator(mode="after")
    def _consistent(self) -> GorseSettings:
        lists = {"positive": self.positive_feedback_types, "read": self.read_feedback_types,
                 "negative": self.negative_feedback_types}
        seen: dict[str, str] = {}
        for name, types in lists.items():
            for t in types:
                if t in seen:
                    raise ValueError(f"feedback type {t!r} is both {seen[t]} and {name}")
                seen[t] = name
        bad = sorted(b for b in self.behaviours.values() if b not in EVENT_TYPES)
        if bad:
            raise ValueError(f"behaviours: unknown behaviour(s) {bad}; known: {', '.join(EVENT_TYPES)}")
        unmapped = [t for t in [*self.positive_feedback_types, *self.read_feedback_types]
                    if self.behaviours.get(t, t) not in EVENT_TYPES]
        if unmapped:
            raise ValueError(f"feedback type(s) {unmapped} name no shelfwise behaviour: add them to behaviours")
        return self

    def behaviour(self, feedback_type: str) -> str | None:
        """The shelfwise event type a feedback type is stored as, or None (kept aside)."""
        if feedback_type in self.positive_feedback_types or feedback_type in self.read_feedback_types:
            return self.behaviours.get(feedback_type, feedback_type)
        return None

    def positive_behaviours(self) -> list[str]:
        return sorted({self.behaviour(t) for t in self.positive_feedback_types})


def settings_of(settings: Any) -> GorseSettings:
    """The ``gorse`` part of an engine's settings, or the defaults before it has one."""
    found = getattr(settings, "gorse", None)
    return found if isinstance(found, GorseSettings) else GorseSettings()


# -- time -------------------------------------------------------------------------------
def parse_time(value: Any) -> float | None:
    """Unix seconds from a Gorse timestamp; None for "", null and Go's zero time (what
    Gorse writes for a time never set).

    Accepts RFC 3339 / ISO 8601 with or without a zone (UTC when none), dates, the formats
    ``dateutil`` reads ("Feb 24 2022 10:00") and Unix times of 10, 13, 16 or 19 digits
    (seconds to nanoseconds), as ``dateparse.ParseAny``. Raises ValueError otherwise, and for
    a time outside 1970 to 2100 (``MIN_TIME``, ``MAX_TIME``: what every event path takes)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _in_range(float(value), value)
    text = str(value).strip()
    if _NUMERIC.fullmatch(text):
        digits = len(text.split(".")[0])
        scale = 1 if digits <= 10 else 1e3 if digits <= 13 else 1e6 if digits <= 16 else 1e9
        return _in_range(float(text) / scale, text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        try:
            with warnings.catch_warnings():  # pandas warns when it guesses a format
                warnings.simplefilter("ignore")
                dt = pd.to_datetime(text, utc=True).to_pydatetime()
        except (ValueError, OverflowError, TypeError):
            raise ValueError(f'Could not find format for "{text}"') from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    seconds = dt.timestamp()
    return None if seconds == _ZERO_S else _in_range(seconds, text)


def _in_range(seconds: float, given: Any) -> float:
    if not MIN_TIME <= seconds <= MAX_TIME:  # NaN fails too
        raise ValueError(f"time {given!r} is not between 1970-01-01 and 2100-01-01")
    return seconds


def format_time(seconds: float | None) -> str:
    """RFC 3339 in UTC as Go writes a ``time.Time`` ("2022-02-24T00:00:00Z",
    "2020-02-02T20:20:02.02Z"); Go's zero time for None. Microsecond precision."""
    if seconds is None:
        return GO_ZERO_TIME
    micros = round(seconds * 1_000_000)
    text = (_EPOCH + timedelta(microseconds=micros)).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = micros % 1_000_000
    return text + ("." + f"{fraction:06d}".rstrip("0") if fraction else "") + "Z"


# -- feedback -----------------------------------------------------------------------------
def feedback_event_id(feedback_type: str, user_id: str, item_id: str) -> str:
    """The event id of Gorse feedback (type, user, item): one row per key, as Gorse keeps."""
    key = "\x1f".join(("gorse", feedback_type, user_id, item_id))
    return "g" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def feedback_context(feedback_type: str, behaviour: str, comment: str) -> dict[str, str]:
    """The event context that remembers what the behaviour alone does not say."""
    context = {} if feedback_type == behaviour else {"gorse_type": feedback_type}
    if comment:
        context["gorse_comment"] = comment
    return context


def feedback_of_event(user_id: str, item_id: str, event_type: str, timestamp: float,
                      value: float | None, context: dict | None) -> dict[str, Any]:
    """Gorse's Feedback for a stored event (any event: one posted through the API keeps its
    type in the context, a native one is feedback of its behaviour's name)."""
    context = context or {}
    return {"FeedbackType": context.get("gorse_type", event_type), "UserId": user_id, "ItemId": item_id,
            "Value": 0.0 if value is None or value != value else float(value),
            "Timestamp": format_time(timestamp), "Comment": str(context.get("gorse_comment", ""))}


# -- labels, items and users --------------------------------------------------------------
def labels_to_attributes(labels: Any) -> dict[str, Any]:
    """Attributes holding Labels: an object's keys are attributes (what content models read),
    any other value (a list of tags, a string) is kept whole under ``LABELS_KEY``."""
    if labels is None:
        return {}
    if isinstance(labels, dict) and labels:
        return dict(labels)
    return {LABELS_KEY: labels}


def attributes_to_labels(attributes: dict[str, Any] | None) -> Any:
    """Labels back from attributes (the inverse of ``labels_to_attributes``); None if none."""
    rest = {k: v for k, v in (attributes or {}).items() if k not in META_KEYS}
    if set(rest) == {LABELS_KEY}:
        return rest[LABELS_KEY]
    return rest or None


def item_row(item: dict[str, Any], keep: dict[str, Any] | None = None) -> dict[str, Any]:
    """A catalogue row from a Gorse Item (``Timestamp`` already Unix seconds or None).
    ``keep``: the stored row, whose shelfwise-only fields (description, brand, price) stay."""
    attributes = labels_to_attributes(item.get("Labels"))
    if item.get("Timestamp") is not None:
        attributes[TIMESTAMP_KEY] = format_time(item["Timestamp"])
    keep = keep or {}
    return {"item_id": item["ItemId"], "title": item.get("Comment") or None,
            "description": keep.get("description"), "brand": keep.get("brand"), "price": keep.get("price"),
            "category": list(item.get("Categories") or []), "attributes": attributes,
            "in_stock": not item.get("IsHidden", False)}


def gorse_item(row: dict[str, Any]) -> dict[str, Any]:
    """Gorse's Item for a catalogue row (as ``shelfwise.store`` reads it)."""
    attributes = row.get("attributes") or {}
    return {"ItemId": row["item_id"], "IsHidden": not bool(row.get("in_stock", True)),
            "Categories": [str(c) for c in (row.get("category") or [])],
            "Timestamp": attributes.get(TIMESTAMP_KEY, GO_ZERO_TIME),
            "Labels": attributes_to_labels(attributes), "Comment": row.get("title") or ""}


def item_timestamp(attributes: dict[str, Any] | None) -> float | None:
    """An item's Gorse Timestamp in Unix seconds, or None when it has none."""
    text = (attributes or {}).get(TIMESTAMP_KEY)
    try:
        return parse_time(text)
    except ValueError:
        return None


def user_row(user: dict[str, Any], keep: dict[str, Any] | None = None) -> dict[str, Any]:
    """A profile row from a Gorse User; ``keep`` (the stored row) keeps its consent."""
    attributes = labels_to_attributes(user.get("Labels"))
    if user.get("Comment"):
        attributes[COMMENT_KEY] = user["Comment"]
    return {"user_id": user["UserId"], "attributes": attributes,
            "consent": bool((keep or {}).get("consent", True))}


def gorse_user(row: dict[str, Any]) -> dict[str, Any]:
    attributes = row.get("attributes") or {}
    return {"UserId": row["user_id"], "Labels": attributes_to_labels(attributes),
            "Comment": str(attributes.get(COMMENT_KEY, ""))}
