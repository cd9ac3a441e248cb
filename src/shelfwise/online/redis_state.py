"""The online state in Redis (redis-py): shared by every server process and instance that
names the same server and namespace.

Keys, all under ``{namespace}:``: ``gen:{user}``, ``recent:{user}``, ``list:{user}:{key}``
(the list cache); ``pop:`` / ``pairs:`` / ``poplog:{counters}`` (popularity counters);
``catalogue``; ``lease:{name}``; ``win:{item}`` (sorted set: shopper -> latest event time)
and ``wintouched:{user}`` (the items a shopper is in, for ``forget``); ``bandit:{name}:shown``
and ``:clicked`` (hashes arm -> count) and ``bandit:{name}:click:...`` (a click counted).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence

import numpy as np

from shelfwise.online.state_base import Accepted, OnlineState, Touched

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


# Windowed counts, one round trip per touched batch: per event, the shopper's latest time on
# the item (ZADD GT: a score only moves later), the item's entries before the cutoff dropped,
# and the item in the shopper's set for forget. A key untouched for one horizon holds only
# entries older than it; the shopper's set must outlive their entries, which last until their
# item's next trim or expiry: two horizons. ARGV = prefix, cutoff, horizon (s), then
# (user, item, time) triples.
_TOUCH = """
local prefix, cutoff, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
for k = 4, #ARGV, 3 do
  local user, item = ARGV[k], ARGV[k + 1]
  local key, mine = prefix .. 'win:' .. item, prefix .. 'wintouched:' .. user
  redis.call('ZADD', key, 'GT', ARGV[k + 2], user)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. cutoff)
  redis.call('EXPIRE', key, ttl)
  redis.call('SADD', mine, item)
  redis.call('EXPIRE', mine, 2 * ttl)
end
"""
_TOUCH_CHUNK = 1000  # events per script call

# KEYS = the items' sorted sets; ARGV = since. Half the client time of pipelined ZCOUNTs.
_COUNT = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('ZCOUNT', key, ARGV[1], '+inf') end
return out
"""

# Forget a shopper in one round trip: new generation, no recent items, out of every
# windowed count they are in. ARGV = prefix, user, ttl.
_FORGET = """
local prefix, user, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
redis.call('INCR', prefix .. 'gen:' .. user)
redis.call('EXPIRE', prefix .. 'gen:' .. user, ttl)
redis.call('DEL', prefix .. 'recent:' .. user)
local touched = prefix .. 'wintouched:' .. user
for _, item in ipairs(redis.call('SMEMBERS', touched)) do
  redis.call('ZREM', prefix .. 'win:' .. item, user)
end
redis.call('DEL', touched)
"""

# Count a click once: the marker and the increment in one step, so two processes given the
# same click cannot both count it. KEYS = marker, clicks hash; ARGV = window ms, arm, ttl.
_CLICK = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  redis.call('EXPIRE', KEYS[2], ARGV[3])
  return 1
end
return 0
"""


class RedisState(OnlineState):
    """The online state in Redis (redis-py), shared by every process that names the same
    server and namespace. Keys live ``ttl`` seconds after their last write (default 30 days);
    the windowed counts' keys one horizon (two for a shopper's list of items), a click's
    marker ``click_window`` seconds (default a day)."""

    def __init__(self, url: str, namespace: str = "shelfwise", recent_items: int = 50,
                 ttl: int = 30 * 86400, click_window: float = 86400.0):
        import redis

        self.client = redis.Redis.from_url(url)
        self.client.ping()  # fail at start, in one line, not at the first event
        self.prefix, self.recent_items, self.ttl = f"{namespace}:", recent_items, ttl
        self.click_window = click_window
        self._accept = self.client.register_script(_ACCEPT)
        self._forget = self.client.register_script(_FORGET)
        self._touch = self.client.register_script(_TOUCH)
        self._count = self.client.register_script(_COUNT)
        self._click = self.client.register_script(_CLICK)

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
        self._forget(keys=[], args=[self.prefix, user_id, self.ttl])

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

    def touch(self, events: Sequence[Touched], horizon_s: float) -> None:
        cutoff = time.time() - float(horizon_s)
        args: list = []  # (user, item, time) triples; repr keeps a time exact
        for user, item, t in events:
            if item is not None and t >= cutoff:  # also refuses a NaN time
                args += [user, item, repr(float(t))]
        seconds = max(1, math.ceil(horizon_s))
        # One script call per chunk: Redis runs a script alone, so a huge batch is cut into
        # short ones rather than holding every other client for its whole length.
        for start in range(0, len(args), 3 * _TOUCH_CHUNK):
            self._touch(keys=[], args=[self.prefix, repr(cutoff), seconds, *args[start:start + 3 * _TOUCH_CHUNK]])

    def window_counts(self, item_ids: Sequence[str], since: float) -> np.ndarray:
        if not item_ids:
            return np.zeros(0, dtype=np.int64)
        counts = self._count(keys=[f"{self.prefix}win:{item}" for item in item_ids], args=[repr(float(since))])
        return np.asarray(counts, dtype=np.int64)

    def bandit_shown(self, name: str, arms: Sequence[str]) -> None:
        if not arms:
            return
        key = f"{self.prefix}bandit:{name}:shown"
        pipe = self.client.pipeline(transaction=False)
        for arm, times in Counter(arms).items():
            pipe.hincrby(key, arm, times)
        pipe.expire(key, self.ttl)
        pipe.execute()

    def bandit_clicked(self, name: str, recommendation_id: str, item_id: str, arm: str) -> bool:
        # the id's length first: ("a:b", "c") and ("a", "b:c") are different clicks
        marker = f"{self.prefix}bandit:{name}:click:{len(recommendation_id)}:{recommendation_id}:{item_id}"
        window_ms = max(1, int(self.click_window * 1000))
        return bool(self._click(keys=[marker, f"{self.prefix}bandit:{name}:clicked"],
                                args=[window_ms, arm, self.ttl]))

    def bandit_counts(self, name: str) -> dict[str, tuple[int, int]]:
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(f"{self.prefix}bandit:{name}:shown")
        pipe.hgetall(f"{self.prefix}bandit:{name}:clicked")
        shown, clicked = ({k.decode(): int(v) for k, v in h.items()} for h in pipe.execute())
        return {arm: (shown.get(arm, 0), clicked.get(arm, 0)) for arm in sorted(shown.keys() | clicked.keys())}

    def close(self) -> None:
        self.client.close()
