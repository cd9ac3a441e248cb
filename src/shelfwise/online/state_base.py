"""The online state's interface (``OnlineState``); the backends are ``memory_state.MemoryState``
and ``redis_state.RedisState``, and ``state.open_state`` picks one from the settings."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

#: (shopper id, item id or None, what the event adds to the item's popularity count)
Accepted = tuple[str, str | None, float]
#: (shopper id, item id, Unix time of the event)
Touched = tuple[str, str, float]


class OnlineState(ABC):
    recent_items: int = 50

    @abstractmethod
    def accept(self, events: Sequence[Accepted], counters: str | None, once: bool) -> None:
        """Record accepted (stored) events: add to the popularity counters named ``counters``
        (None: none), push recent items, and invalidate each shopper's cached lists. With
        ``once``, a (shopper, item) pair adds 1 the first time only (counts of distinct
        shoppers); otherwise each event adds its weight."""

    @abstractmethod
    def popularity(self, counters: str) -> dict[str, float]:
        """{item id: count added since the counters started}."""

    @abstractmethod
    def popularity_log(self, counters: str, start: int) -> list[tuple[str, float]]:
        """The increments of the counters ``counters``, (item id, amount) in the order they
        were made, from the ``start``-th on: a reader that keeps its place applies only
        what is new (``popularity`` is their sum)."""

    @abstractmethod
    def recent(self, user_id: str) -> list[str]:
        """The shopper's recent item ids, newest first."""

    @abstractmethod
    def cached(self, user_id: str, key: str) -> tuple[int, bytes | None]:
        """(the shopper's current generation, the list cached under ``key`` if it is of that
        generation and not expired, else None)."""

    @abstractmethod
    def cache(self, user_id: str, key: str, generation: int, payload: bytes, seconds: float) -> None:
        """Keep ``payload`` for ``seconds`` as the list of ``generation`` (read from
        ``cached`` before computing it)."""

    @abstractmethod
    def forget(self, user_id: str) -> None:
        """Drop the shopper's recent items, cached lists and windowed-count entries."""

    @abstractmethod
    def catalogue_changed(self) -> None:
        """Count a catalogue change (stock, price, a new item) in every process sharing the
        state: lists cached before it stop counting (callers put ``catalogue_generation`` in
        the list key) and servers re-read stock on their next request."""

    @abstractmethod
    def catalogue_generation(self) -> int:
        """How many catalogue changes this state has counted."""

    @abstractmethod
    def claim(self, name: str, owner: str, seconds: float) -> bool:
        """True if ``owner`` holds the lease ``name`` now (taken if free, or renewed if
        already theirs) for ``seconds``: one process of several does a shared chore."""

    # -- live windowed popularity ------------------------------------------------------
    @abstractmethod
    def touch(self, events: Sequence[Touched], horizon_s: float) -> None:
        """Record events for the windowed counts: per item, each shopper's latest event time
        (an item of None is skipped). Entries older than now - ``horizon_s`` (wall clock) are
        dropped as later events are touched (an event that old is not recorded), so it holds about one
        horizon of shoppers and ``window_counts`` is exact for ``since`` >= now - ``horizon_s``."""

    @abstractmethod
    def window_counts(self, item_ids: Sequence[str], since: float) -> np.ndarray:
        """(len(item_ids),) int64: per item, how many distinct shoppers have a touched event
        on it at Unix time >= ``since`` (0 for an item never touched)."""

    # -- bandit feedback -----------------------------------------------------------------
    @abstractmethod
    def bandit_shown(self, name: str, arms: Sequence[str]) -> None:
        """Count one more showing of each arm in ``arms`` (an arm listed twice: two) for the
        bandit ``name``."""

    @abstractmethod
    def bandit_clicked(self, name: str, recommendation_id: str, item_id: str, arm: str) -> bool:
        """Count a click on ``arm`` of the bandit ``name``, once per (recommendation_id,
        item_id): True if this call counted it, False for a repeat (within the backend's
        ``click_window`` seconds of the first click; processes sharing the state agree)."""

    @abstractmethod
    def bandit_counts(self, name: str) -> dict[str, tuple[int, int]]:
        """{arm: (times shown, clicks)} of the bandit ``name``, arms in sorted order."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
