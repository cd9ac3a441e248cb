"""The EventStore interface and the URL registry that picks a backend.

A store keeps the shop's raw log: events (append-only, idempotent on (user, ``event_id``)), the item
catalogue and users (upserted). Training never reads the store row by row: it takes one
``snapshot()`` and builds ``Interactions`` from it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shelfwise.data.schemas import Event, Item, User


@dataclass(frozen=True)
class DeletionReport:
    user_id: str
    events: int
    user_rows: int


class EventStore(ABC):
    """Backend-neutral store. Frames use the canonical columns of ``shelfwise.data.schemas``."""

    url: str

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
    def delete_user(self, user_id: str) -> DeletionReport:
        """Remove every event and the profile of one user, atomically."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_BACKENDS: dict[str, Callable[[str], EventStore]] = {}


def register_backend(prefix: str, factory: Callable[[str], EventStore]) -> None:
    """Make ``open_store`` hand URLs starting with ``prefix`` (e.g. "sqlite") to ``factory``."""
    _BACKENDS[prefix] = factory


def open_store(url: str) -> EventStore:
    """Open the store a URL names: ``sqlite:///path.db``, ``sqlite://`` (memory) or
    ``postgresql://user@host/db`` (any ``postgresql+driver://`` form too)."""
    import shelfwise.store.sql  # noqa: F401 - registers the built-in backends

    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in _BACKENDS:
        known = ", ".join(sorted(_BACKENDS))
        raise ValueError(f"No event store for URL scheme {scheme!r} (known: {known}).")
    return _BACKENDS[scheme](url)
