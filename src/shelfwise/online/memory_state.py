"""The online state in this process's memory: the default, for a single server process."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from shelfwise.online.state_base import Accepted, OnlineState, Touched


class _Window:
    """One item's shoppers by their latest event time: ``latest`` {user: time} and ``order``,
    the same (time, user) pairs sorted, so a count since t is one bisect and trimming the
    old ones deletes a prefix."""

    __slots__ = ("latest", "order")

    def __init__(self) -> None:
        self.latest: dict[str, float] = {}
        self.order: list[tuple[float, str]] = []

    def add(self, user: str, t: float) -> None:
        old = self.latest.get(user)
        if old is not None:
            if old >= t:
                return
            del self.order[bisect_left(self.order, (old, user))]
        self.latest[user] = t
        insort(self.order, (t, user))

    def remove(self, user: str) -> None:
        t = self.latest.pop(user, None)
        if t is not None:
            del self.order[bisect_left(self.order, (t, user))]

    def trim(self, cutoff: float) -> None:
        """Drop the shoppers whose latest time is before ``cutoff``."""
        k = bisect_left(self.order, (cutoff,))  # (cutoff,) sorts before every (cutoff, user)
        for _, user in self.order[:k]:
            del self.latest[user]
        del self.order[:k]

    def count(self, since: float) -> int:
        return len(self.order) - bisect_left(self.order, (since,))


class MemoryState(OnlineState):
    """The online state in this process's memory (a single server process)."""

    def __init__(self, recent_items: int = 50, max_lists: int = 200_000, click_window: float = 86400.0):
        self.recent_items, self.max_lists, self.click_window = recent_items, max_lists, click_window
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, float]] = {}
        self._log: dict[str, list[tuple[str, float]]] = {}
        self._pairs: dict[str, set[tuple[str, str]]] = {}
        self._recent: dict[str, list[str]] = {}
        self._generation: dict[str, int] = {}
        self._lists: OrderedDict[tuple[str, str], tuple[int, float, bytes]] = OrderedDict()
        self._catalogue = 0
        self._windows: dict[str, _Window] = {}
        self._swept = time.time()  # when every window was last trimmed
        self._bandits: dict[str, dict[str, list[int]]] = {}  # name -> arm -> [shown, clicked]
        self._clicks: OrderedDict[tuple[str, str, str], float] = OrderedDict()  # -> expiry, oldest first

    def accept(self, events: Sequence[Accepted], counters: str | None, once: bool) -> None:
        with self._lock:
            if counters and counters not in self._counts:  # a new popular version: the old
                self._counts, self._pairs, self._log = {}, {}, {}  # counters are in its training
            counts = self._counts.setdefault(counters, {}) if counters else None
            log = self._log.setdefault(counters, []) if counters else None
            pairs = self._pairs.setdefault(counters, set()) if counters and once else None
            for user, item, weight in events:
                self._generation[user] = self._generation.get(user, 0) + 1
                if item is None:
                    continue
                recent = self._recent.setdefault(user, [])
                recent.insert(0, item)
                del recent[self.recent_items:]
                if counts is None or weight <= 0:
                    continue
                if pairs is not None:
                    if (user, item) in pairs:
                        continue
                    pairs.add((user, item))
                    weight = 1.0
                counts[item] = counts.get(item, 0.0) + weight
                log.append((item, weight))

    def popularity(self, counters: str) -> dict[str, float]:
        with self._lock:
            return dict(self._counts.get(counters, {}))

    def popularity_log(self, counters: str, start: int) -> list[tuple[str, float]]:
        with self._lock:
            return self._log.get(counters, [])[start:]

    def recent(self, user_id: str) -> list[str]:
        with self._lock:
            return list(self._recent.get(user_id, []))

    def cached(self, user_id: str, key: str) -> tuple[int, bytes | None]:
        with self._lock:
            generation = self._generation.get(user_id, 0)
            entry = self._lists.get((user_id, key))
        if entry is None or entry[0] != generation or entry[1] < time.monotonic():
            return generation, None
        return generation, entry[2]

    def cache(self, user_id: str, key: str, generation: int, payload: bytes, seconds: float) -> None:
        with self._lock:
            self._lists[(user_id, key)] = (generation, time.monotonic() + seconds, payload)
            self._lists.move_to_end((user_id, key))
            while len(self._lists) > self.max_lists:  # oldest first out
                self._lists.popitem(last=False)

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._generation[user_id] = self._generation.get(user_id, 0) + 1
            self._recent.pop(user_id, None)
            for pairs in self._pairs.values():
                pairs -= {p for p in pairs if p[0] == user_id}
            for window in self._windows.values():  # forgetting is rare: a scan beats an index
                window.remove(user_id)

    def catalogue_changed(self) -> None:
        with self._lock:
            self._catalogue += 1

    def catalogue_generation(self) -> int:
        return self._catalogue

    def claim(self, name: str, owner: str, seconds: float) -> bool:
        return True  # one process: nobody to share the chore with

    def touch(self, events: Sequence[Touched], horizon_s: float) -> None:
        now = time.time()
        cutoff = now - float(horizon_s)
        with self._lock:
            touched = set()
            for user, item, t in events:
                if item is None or not t >= cutoff:  # also refuses a NaN time
                    continue
                window = self._windows.get(item)
                if window is None:
                    window = self._windows[item] = _Window()
                window.add(user, float(t))
                touched.add(item)
            # Trim what was touched now, and every item once per horizon: an item nobody
            # touches again would otherwise keep its shoppers for ever.
            sweep = now - self._swept >= horizon_s
            for item in (list(self._windows) if sweep else touched):
                window = self._windows[item]
                window.trim(cutoff)
                if not window.latest:
                    del self._windows[item]
            if sweep:
                self._swept = now

    def window_counts(self, item_ids: Sequence[str], since: float) -> np.ndarray:
        with self._lock:
            windows = [self._windows.get(i) for i in item_ids]
            return np.fromiter((w.count(since) if w is not None else 0 for w in windows),
                               dtype=np.int64, count=len(windows))

    def bandit_shown(self, name: str, arms: Sequence[str]) -> None:
        with self._lock:
            counts = self._bandits.setdefault(name, {})
            for arm in arms:
                counts.setdefault(arm, [0, 0])[0] += 1

    def bandit_clicked(self, name: str, recommendation_id: str, item_id: str, arm: str) -> bool:
        now = time.monotonic()
        key = (name, recommendation_id, item_id)
        with self._lock:
            while self._clicks and next(iter(self._clicks.values())) <= now:  # expired, oldest first
                self._clicks.popitem(last=False)
            if key in self._clicks:
                return False
            self._clicks[key] = now + self.click_window
            self._bandits.setdefault(name, {}).setdefault(arm, [0, 0])[1] += 1
            return True

    def bandit_counts(self, name: str) -> dict[str, tuple[int, int]]:
        with self._lock:
            counts = self._bandits.get(name, {})
            return {arm: (counts[arm][0], counts[arm][1]) for arm in sorted(counts)}
