"""Online state: what must move at once when an event is accepted, behind one interface.

- popularity counters: per item, what accepted events add to the serving ``popular``
  model's counts since the version it was trained in (so the popular list moves without
  retraining; a new version starts from zero, its training saw those events);
- each shopper's recent items, newest first (at most ``online.recent_items``);
- live windowed popularity: per item, the distinct shoppers with an event in a recent window
  (``touch`` / ``window_counts``), exact, whatever the serving process;
- bandit feedback: per arm, times shown and clicks, a click counted once per shown list;
- a cache of served recommendation lists, keyed by shopper and request. Each shopper has a
  generation that their every accepted event (and forgetting them) increments; a cached list
  counts only while its generation is the shopper's current one, so an event invalidates
  the shopper's lists at once, even a list being computed while the event arrived. Callers
  put the active model versions in the request key, so an activation invalidates every list.

Two backends: ``MemoryState`` (the default: one serving process) and ``RedisState``
(``online.url = "redis://..."``: every server process and instance sharing one Redis sees
the same counters, recent items and cache)::

    state = open_state(settings.online)
    state.accept([("U1", "P7", 1.0)], counters="20261202T101500-ab12cd", once=True)
    state.popularity("20261202T101500-ab12cd")     # {"P7": 1.0}
    state.touch([("U1", "P7", time.time())], horizon_s=3600)
    state.window_counts(["P7", "P8"], since=time.time() - 600)   # array([1, 0])
    state.bandit_shown("explore", ["Food", "Toys"])
    state.bandit_clicked("explore", "rec-1", "P7", "Food")       # True (again: False)
    state.bandit_counts("explore")                # {"Food": (1, 1), "Toys": (1, 0)}
"""

from __future__ import annotations

from shelfwise.online.memory_state import MemoryState
from shelfwise.online.redis_state import RedisState
from shelfwise.online.state_base import Accepted, OnlineState, Touched

__all__ = ["Accepted", "MemoryState", "OnlineState", "RedisState", "Touched", "open_state"]


def open_state(settings) -> OnlineState:
    """The backend ``settings`` (``OnlineSettings``) names: in-process, or Redis at ``url``."""
    if not settings.url:
        return MemoryState(recent_items=settings.recent_items)
    from shelfwise.errors import MissingExtra, ShelfwiseError

    try:
        import redis
    except ImportError:
        raise MissingExtra("online.url (Redis)", "serve", ["redis"]) from None
    try:
        return RedisState(settings.url, settings.namespace, settings.recent_items)
    except (redis.RedisError, ValueError) as exc:
        raise ShelfwiseError(f"online.url: cannot use Redis at {settings.url} ({exc})") from None
