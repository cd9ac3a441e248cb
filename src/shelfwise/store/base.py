"""The EventStore interface (backends: ``store.sql``; choosing one by URL: ``store.registry``).

A store keeps the shop's raw log: events (append-only, idempotent on (user, ``event_id``)), the item
catalogue and users (upserted), and the impression log (what each served list showed, idempotent
on (``recommendation_id``, ``position``)). Training never reads the store row by row: it takes one
``snapshot()`` and builds ``Interactions`` from it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shelfwise.data.schemas import Event, Item, User

#: Impression log columns, in store order: what ``EventStore.impressions`` returns.
IMPRESSION_COLUMNS = ("recommendation_id", "position", "item_id", "user_id", "created_at",
                      "model", "version", "policy", "source", "propensity", "arm", "experiment", "variant")
#: Where a shown item came from (``ranking.final.Slot.source``).
IMPRESSION_SOURCES = ("ranked", "fallback", "promoted", "pinned", "explore")
# Text columns and their widths. Checked here so that SQLite (which would store any length)
# refuses what PostgreSQL refuses: one contract on every backend.
_TEXT = {"recommendation_id": 64, "item_id": 255, "user_id": 255, "model": 64, "version": 64,
         "policy": 64, "source": 16, "arm": 255, "experiment": 64, "variant": 64}
_OPTIONAL = ("propensity", "arm", "experiment", "variant")


@dataclass(frozen=True)
class DeletionReport:
    user_id: str
    events: int
    user_rows: int
    impressions: int = 0
    versions: int = 0  # kept model versions the shopper was tombstoned in
    audit_id: str = ""  # the forget log's audit row
    exact: tuple[str, ...] = ()  # models (in any kept version) that subtracted them exactly
    dropped: tuple[str, ...] = ()  # models that dropped their own rows, waiting for the refit


class EventStore(ABC):
    """Backend-neutral store. Frames use the canonical columns of ``shelfwise.data.schemas``."""

    url: str
    #: Encrypts personal fields at rest (``store.fields``); None stores them as plaintext.
    cipher = None

    @abstractmethod
    def append_events(self, events: pd.DataFrame) -> int:
        """Append a validated event frame in one transaction; returns how many were new
        (an event whose ``event_id`` is already stored for its user is skipped, so re-sending
        is safe)."""

    def append(self, events: Iterable[Event]) -> int:
        """Append pydantic events (the online path)."""
        rows = [e.model_dump() for e in events]
        if not rows:
            return 0
        frame = pd.DataFrame(rows)
        frame["event_type"] = frame["event_type"].map(lambda t: getattr(t, "value", t))
        from shelfwise.data.validation import _context_json  # one JSON encoding everywhere

        frame["context"] = frame["context"].map(_context_json)
        return self.append_events(frame)

    @abstractmethod
    def snapshot(self) -> pd.DataFrame:
        """Every event, in insertion order, as one frame."""

    @abstractmethod
    def user_history(self, user_id: str) -> pd.DataFrame:
        """One user's events, oldest first."""

    def user_events(self, user_id: str) -> tuple[list, list[str], np.ndarray]:
        """One user's (item ids, event types, Unix times (n,) float64), oldest first: the
        serving path's read, without building a frame."""
        hist = self.user_history(user_id)
        return (hist["item_id"].tolist(), hist["event_type"].tolist(),
                hist["timestamp"].to_numpy(np.float64))

    def consent(self, user_id: str) -> bool | None:
        """The shopper's personalisation consent from their profile; None without a profile."""
        users = self.users()
        row = users.loc[users["user_id"] == user_id, "consent"]
        return bool(row.iloc[0]) if len(row) else None

    @abstractmethod
    def count_events(self) -> int: ...

    @abstractmethod
    def upsert_items(self, items: pd.DataFrame | Iterable[Item]) -> int: ...

    @abstractmethod
    def upsert_users(self, users: pd.DataFrame | Iterable[User]) -> int: ...

    @abstractmethod
    def items(self) -> pd.DataFrame: ...

    def out_of_stock(self) -> set[str]:
        """Ids of the catalogue items marked out of stock (read on the serving path, so
        backends answer it without reading the whole catalogue)."""
        items = self.items()
        return set(items.loc[~items["in_stock"].astype(bool), "item_id"]) if len(items) else set()

    @abstractmethod
    def users(self) -> pd.DataFrame: ...

    @abstractmethod
    def events_since(self, timestamp: float) -> pd.DataFrame:
        """Events with ``timestamp`` >= the given Unix time, oldest first (ties in insertion
        order): columns user_id, item_id, event_type, timestamp (float64). Reads only those
        rows (the timestamp index), so a live consumer can poll the tail of a large log."""

    # -- impressions -------------------------------------------------------------
    @abstractmethod
    def log_impressions(self, rows: list[dict]) -> int:
        """Store what served lists showed, one dict per shown item with the keys of
        ``IMPRESSION_COLUMNS`` (``propensity`` and ``arm`` may be left out: None), in one
        transaction; returns how many rows were new. A row whose (recommendation_id, position)
        is already stored is skipped, so re-sending is safe. Backends check rows with
        ``check_impressions`` first: a bad row raises ValueError and stores nothing."""

    @abstractmethod
    def impressions(self, recommendation_id: str | None = None, *, user_id: str | None = None,
                    since: float | None = None, limit: int | None = None) -> pd.DataFrame:
        """Stored impressions matching every filter given (one list; one shopper, "" for
        anonymous sessions; created_at >= ``since``), ordered by created_at, then
        recommendation_id, then position (a list's rows stay together), at most ``limit``
        rows from the oldest. Columns ``IMPRESSION_COLUMNS``: position int64, created_at and
        propensity float64 (NaN where None), the rest str (arm None where unset)."""

    @abstractmethod
    def prune_impressions(self, before: float) -> int:
        """Delete impressions created before ``before`` (Unix seconds); returns how many
        (the retention setting's chore)."""

    @abstractmethod
    def delete_user(self, user_id: str) -> DeletionReport:
        """Remove every event, every impression and the profile of one user, atomically."""

    def flush_deleted(self, tables: tuple[str, ...] | None = None) -> None:  # noqa: B027 - optional hook
        """Make deleted rows leave the backend's files where it can (SQLite's WAL,
        PostgreSQL's VACUUM of ``tables``, default every table that names a shopper)."""

    # -- retention (``store.retention``; run by ``privacy.retention``) ----------------------
    @abstractmethod
    def expire_events(self, before: float) -> int:
        """Delete events older than ``before``, adding them to ``item_counts``; how many."""

    @abstractmethod
    def shoppers_without_consent(self, consent_default: bool) -> list[str]: ...

    @abstractmethod
    def reduce_shoppers(self, user_ids: list[str], count: bool) -> int:
        """Delete the shoppers' events (into ``item_counts`` when ``count``); how many."""

    @abstractmethod
    def item_counts(self) -> pd.DataFrame:
        """Counts of reduced events: item_id, event_type, count (int64)."""

    # -- portrait aggregates (``store.portraits``; written and read by ``shelfwise.profiles``) --
    @abstractmethod
    def add_portrait_aggregates(self, stats: list[dict], counts: list[dict], transitions: list[dict]) -> None:
        """Add one batch's per-shopper sums, counts and the shop's category transitions."""

    @abstractmethod
    def portrait_aggregates(self, user_ids: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(stats, counts) frames of the given shoppers' aggregates (None: everyone's)."""

    @abstractmethod
    def last_categories(self, user_ids: list[str]) -> dict[str, tuple[str, float]]: ...

    @abstractmethod
    def category_transitions(self) -> pd.DataFrame: ...

    @abstractmethod
    def clear_portraits(self, user_ids: list[str] | None = None) -> None: ...

    @abstractmethod
    def withheld(self, user_ids: list[str] | None = None) -> set[str]:
        """The given shoppers (None: all stored ones) whose profile withholds consent."""

    @abstractmethod
    def newest_event_time(self) -> float | None: ...

    # -- campaigns (``store.campaigns``; written and read by ``shelfwise.marketing``) --------
    @abstractmethod
    def create_campaign(self, campaign_id: str, name: str, created_at: float, spec: dict,
                        members: list[tuple[str, str, int]]) -> None: ...

    @abstractmethod
    def campaign(self, campaign_id: str) -> dict | None: ...

    @abstractmethod
    def campaign_members(self, campaign_id: str) -> pd.DataFrame: ...

    @abstractmethod
    def list_campaigns(self) -> list[dict]: ...

    # -- experiments (``store.experiments``; written and read by ``shelfwise.experiments``) --
    @abstractmethod
    def create_experiment(self, record: dict) -> None:
        """Store {experiment_id, name, kind, created_at, spec (dict)}; stopped_at starts None."""

    @abstractmethod
    def experiments(self) -> list[dict]:
        """Every experiment's record ({experiment_id, name, kind, created_at, stopped_at,
        spec}), oldest first."""

    @abstractmethod
    def stop_experiment(self, experiment_id: str, at: float) -> bool:
        """Set stopped_at of a running experiment; False when none such runs."""

    @abstractmethod
    def experiment_impressions(self, experiment_id: str) -> pd.DataFrame:
        """The impression rows served in the experiment: recommendation_id, position,
        item_id, user_id, created_at, variant."""

    @abstractmethod
    def events_of(self, user_ids: list[str], since: float) -> pd.DataFrame:
        """The given shoppers' events with timestamp >= ``since``: user_id, item_id,
        event_type, timestamp, value, context (JSON text or None)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()



def check_impressions(rows: list[dict]) -> list[dict]:
    """Impression rows checked and normalised: every key of ``IMPRESSION_COLUMNS`` (the
    optional ones filled with None), ids and labels str within their column width,
    position an int >= 1, created_at a finite float, propensity None or in [0, 1], source
    one of ``IMPRESSION_SOURCES``. Raises ValueError naming the row and field."""
    out = []
    for k, row in enumerate(rows):
        unknown = set(row) - set(IMPRESSION_COLUMNS)
        missing = set(IMPRESSION_COLUMNS) - set(row) - set(_OPTIONAL)
        if unknown or missing:
            raise ValueError(f"impression row {k}: unknown field(s) {sorted(unknown)}, "
                             f"missing field(s) {sorted(missing)}")
        clean = {c: row.get(c) for c in IMPRESSION_COLUMNS}
        for name, width in _TEXT.items():
            value = clean[name]
            if value is None and name in _OPTIONAL:
                continue
            if not isinstance(value, str) or len(value) > width:
                raise ValueError(f"impression row {k}: {name} must be a str of at most {width} "
                                 f"characters, got {value!r}")
        if not clean["recommendation_id"] or not clean["item_id"]:
            raise ValueError(f"impression row {k}: recommendation_id and item_id must not be empty")
        if clean["source"] not in IMPRESSION_SOURCES:
            raise ValueError(f"impression row {k}: source must be one of {IMPRESSION_SOURCES}, "
                             f"got {clean['source']!r}")
        position = clean["position"]
        if isinstance(position, bool) or not isinstance(position, int | np.integer) or position < 1:
            raise ValueError(f"impression row {k}: position must be an int >= 1, got {position!r}")
        clean["position"] = int(position)
        clean["created_at"] = _finite(k, "created_at", clean["created_at"])
        if clean["propensity"] is not None:
            p = clean["propensity"] = _finite(k, "propensity", clean["propensity"])
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"impression row {k}: propensity must be in [0, 1], got {p!r}")
        out.append(clean)
    return out


def _finite(k: int, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not math.isfinite(value):
        raise ValueError(f"impression row {k}: {name} must be a finite number, got {value!r}")
    return float(value)
