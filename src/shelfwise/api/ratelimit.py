"""Rate limits per key and per client address, on the ``limits`` library's moving windows.

The counts live in Redis when the online state is in Redis (``online.url``), so every server
process sharing it shares the limits; otherwise in this process's memory (each of ``serve
--workers N`` then counts on its own). Limits are in ``limits``' notation, several joined by
``;`` (``"200/second;5000/minute"``); an empty string turns a limit off.

Three limits (``serve.*``): ``rate_limit`` per server key (read, write, admin);
``browser_rate_limit`` per client address and key for what a browser holds (a public key, a
shopper token), since one such key is shared by every shopper of the shop; and
``auth_failure_limit``, failed authentications per client address and per claimed key id.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

log = logging.getLogger("shelfwise.api")


def parse(text: str) -> list[RateLimitItem]:
    """The limits a setting names ('' for none); ValueError naming what is wrong."""
    if not text.strip():
        return []
    try:
        return parse_many(text)
    except ValueError as exc:
        raise ValueError(f"not a rate limit such as '200/second' or '10/second;500/minute': {exc}") from None


class Limiter:
    """``await hit(kind, *ids)``: None when the request may go on, else the seconds to wait
    (the ``Retry-After``). ``kind`` is ``key``, ``browser`` or ``failure``."""

    def __init__(self, serve_settings, online_url: str = "", namespace: str = "shelfwise"):
        self.items = {"key": parse(serve_settings.rate_limit), "browser": parse(serve_settings.browser_rate_limit),
                      "failure": parse(serve_settings.auth_failure_limit)}
        if online_url:
            # redis-py's asyncio client (a core dependency already); keys under the shop's prefix
            storage = storage_from_string("async+" + online_url, implementation="redispy",
                                          key_prefix=f"{namespace}:limits")
        else:
            storage = storage_from_string("async+memory://")
        self.limiter = MovingWindowRateLimiter(storage)

    async def hit(self, kind: str, *ids: str) -> int | None:
        """Count one request against ``kind``'s limits for ``ids``."""
        return await self._ask(kind, ids, count=True)

    async def over(self, kind: str, *ids: str) -> int | None:
        """Whether ``ids`` are past ``kind``'s limits already, without counting a request."""
        return await self._ask(kind, ids, count=False)

    async def _ask(self, kind: str, ids: tuple[str, ...], count: bool) -> int | None:
        try:
            for item in self.items[kind]:
                ok = await (self.limiter.hit if count else self.limiter.test)(item, kind, *ids)
                if not ok:
                    reset, _ = await self.limiter.get_window_stats(item, kind, *ids)
                    return max(1, math.ceil(reset - time.time()))
        except Exception as exc:  # a limiter whose store (Redis) is down must not stop serving
            log.warning("rate limits not applied: %s", exc)
        return None
