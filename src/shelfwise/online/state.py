"""Online state: what must move at once when an event is accepted, behind one interface.

- popularity counters: per item, what accepted events add to the serving ``popular``
  model's counts since the version it was trained in (so the popular list moves without
  retraining; a new version starts from zero, its training saw those events);
- each shopper's recent items, newest first (at most ``online.recent_items``);
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
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence

#: (shopper id, item id or None, what the event adds to the item's popularity count)
Accepted = tuple[str, str | None, float]


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
        """Drop the shopper's recent items and cached lists."""

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

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


class MemoryState(OnlineState):
    """The online state in this process's memory (a single server process)."""

    def __init__(self, recent_items: int = 50, max_lists: int = 200_000):
        self.recent_items, self.max_lists = recent_items, max_lists
        self._lock = threading.Lock()
        self._counts: dict[str, dict[str, float]] = {}
        self._log: dict[str, list[tuple[str, float]]] = {}
        self._pairs: dict[str, set[tuple[str, str]]] = {}
        self._recent: dict[str, list[str]] = {}
        self._generation: dict[str, int] = {}
        self._lists: OrderedDict[tuple[str, str], tuple[int, float, bytes]] = OrderedDict()
        self._catalogue = 0

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

    def catalogue_changed(self) -> None:
        with self._lock:
            self._catalogue += 1

    def catalogue_generation(self) -> int:
        return self._catalogue

    def claim(self, name: str, owner: str, seconds: float) -> bool:
        return True  # one process: nobody to share the chore with


# One round trip per accepted batch: KEYS = counts zset, pairs set, log of increments (list of
# "item\tamount"); ARGV = once, recent_items,
# ttl, prefix, then (user, item, weight) triples ("" for no item).
_ACCEPT = """
local once, keep, ttl, prefix = ARGV[1] == '1', tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
for k = 5, #ARGV, 3 do
  local user, item, weight = ARGV[k], ARGV[k + 1], tonumber(ARGV[k + 2])
  redis.call('INCR', prefix .. 'gen:' .. user)
  redis.call('EXPIRE', prefix .. 'gen:' .. user, ttl)
  if item ~= '' then
    local recent = prefix .. 'recent:' .. user
    redis.call('LPUSH', recent, item)
    redis.call('LTRIM', recent, 0, keep - 1)
    redis.call('EXPIRE', recent, ttl)
    if KEYS[1] ~= '' and weight > 0 then
      if once then
        if redis.call('SADD', KEYS[2], user .. '\\0' .. item) == 1 then
          redis.call('ZINCRBY', KEYS[1], 1, item)
          redis.call('RPUSH', KEYS[3], item .. '\\t1')
        end
      else
        redis.call('ZINCRBY', KEYS[1], weight, item)
        redis.call('RPUSH', KEYS[3], item .. '\\t' .. ARGV[k + 2])
      end
    end
  end
end
if KEYS[1] ~= '' then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
  if once then redis.call('EXPIRE', KEYS[2], ttl) end
end
"""


class RedisState(OnlineState):
    """The online state in Redis (redis-py), shared by every process that names the same
    server and namespace. Keys live ``ttl`` seconds after their last write (default 30 days)."""

    def __init__(self, url: str, namespace: str = "shelfwise", recent_items: int = 50,
                 ttl: int = 30 * 86400):
        import redis

        self.client = redis.Redis.from_url(url)
        self.client.ping()  # fail at start, in one line, not at the first event
        self.prefix, self.recent_items, self.ttl = f"{namespace}:", recent_items, ttl
        self._accept = self.client.register_script(_ACCEPT)

    def accept(self, events: Sequence[Accepted], counters: str | None, once: bool) -> None:
        if not events:
            return
        keys = ([f"{self.prefix}pop:{counters}", f"{self.prefix}pairs:{counters}", f"{self.prefix}poplog:{counters}"]
                if counters else ["", "", ""])
        args: list = ["1" if once else "0", self.recent_items, self.ttl, self.prefix]
        for user, item, weight in events:
            args += [user, item or "", float(weight)]
        self._accept(keys=keys, args=args)

    def popularity(self, counters: str) -> dict[str, float]:
        pairs = self.client.zrange(f"{self.prefix}pop:{counters}", 0, -1, withscores=True)
        return {item.decode(): score for item, score in pairs}

    def popularity_log(self, counters: str, start: int) -> list[tuple[str, float]]:
        out = []
        for raw in self.client.lrange(f"{self.prefix}poplog:{counters}", start, -1):
            item, _, amount = raw.decode().rpartition("\t")
            out.append((item, float(amount)))
        return out

    def recent(self, user_id: str) -> list[str]:
        return [i.decode() for i in self.client.lrange(f"{self.prefix}recent:{user_id}", 0, -1)]

    def cached(self, user_id: str, key: str) -> tuple[int, bytes | None]:
        pipe = self.client.pipeline(transaction=False)
        pipe.get(f"{self.prefix}gen:{user_id}")
        pipe.get(f"{self.prefix}list:{user_id}:{key}")
        raw_generation, entry = pipe.execute()
        generation = int(raw_generation or 0)
        if entry is None:
            return generation, None
        stored, _, payload = entry.partition(b":")
        return generation, payload if int(stored) == generation else None

    def cache(self, user_id: str, key: str, generation: int, payload: bytes, seconds: float) -> None:
        self.client.set(f"{self.prefix}list:{user_id}:{key}", str(generation).encode() + b":" + payload,
                        px=max(1, int(seconds * 1000)))

    def forget(self, user_id: str) -> None:
        pipe = self.client.pipeline()
        pipe.incr(f"{self.prefix}gen:{user_id}")
        pipe.expire(f"{self.prefix}gen:{user_id}", self.ttl)
        pipe.delete(f"{self.prefix}recent:{user_id}")
        pipe.execute()

    def catalogue_changed(self) -> None:
        self.client.incr(f"{self.prefix}catalogue")

    def catalogue_generation(self) -> int:
        return int(self.client.get(f"{self.prefix}catalogue") or 0)

    def claim(self, name: str, owner: str, seconds: float) -> bool:
        key, ms = f"{self.prefix}lease:{name}", max(1, int(seconds * 1000))
        if self.client.set(key, owner, nx=True, px=ms):
            return True
        if self.client.get(key) == owner.encode():  # ours: renew (a race loses a renewal, not the lease)
            self.client.pexpire(key, ms)
            return True
        return False

    def close(self) -> None:
        self.client.close()


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
