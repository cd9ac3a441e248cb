"""Precomputed lists: every trained shopper's plain list kept in the list cache, as Gorse
serves from its cache, so a ``GET /users/{id}/recommendations`` with no options is answered
without scoring.

On with ``online.precompute_seconds`` > 0. A background thread of the serving process walks
the shoppers of the default model's training view and stores, for each one whose list is
not cached, exactly what the route would answer for ``n = online.precompute_n``
(``routes.recommendations.list_payload``) under the same cache key. A precomputed list lives
``precompute_seconds``, and the thread starts a new pass before the oldest would expire.
Freshness is kept by the cache itself: the shopper's next accepted event, a model activation
or a stock change voids their list at once (generations and the key), and the next request
computes it afresh. What moves everyone's lists a little (popularity counters, prices) counts
within ``precompute_seconds``.

With several server processes sharing Redis, one of them (the holder of a lease in the online
state) does the walking; the others serve the lists it stores.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

from shelfwise.api.online import list_key
from shelfwise.errors import NotTrained

log = logging.getLogger("shelfwise.api")
IDLE_S = 2.0  # how often an idle walker looks again (a new version, the lease)


class Precompute:
    def __init__(self, app):
        self.app = app
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.done, self.total = 0, 0  # progress of the current pass, for /healthz
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shelfwise-precompute", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def status(self) -> dict:
        return {"lists": self.done, "of": self.total, "passes": self.passes}

    def _run(self) -> None:
        finished: tuple[str, float] | None = None  # (key, when) of the last whole pass
        while not self._stop.is_set():
            engine = self.app.state.engine
            settings = engine.settings.online
            try:
                key = self._key(engine)
                fresh = finished is not None and finished[0] == key and \
                    time.monotonic() - finished[1] < 0.5 * settings.precompute_seconds
                if fresh or not self.app.state.online.claim("precompute", self.owner, 2 * IDLE_S + 60):
                    self._stop.wait(IDLE_S)
                    continue
                if self._walk(engine, key):
                    finished = (key, time.monotonic())
                    self.passes += 1
            except NotTrained:
                self._stop.wait(IDLE_S)
            except Exception:  # the walker must not die with one bad list; requests still compute
                log.exception("precomputing lists failed; trying again")
                self._stop.wait(IDLE_S)

    def _key(self, engine) -> str:
        return list_key(engine, "recommend", n=engine.settings.online.precompute_n,
                        model=engine.settings.default_model, options=None)

    def _walk(self, engine, key: str) -> bool:
        """One pass over the trained shoppers; False when it was cut short (a new key: a new
        version or a stock change, or the lease went to another process)."""
        from shelfwise.api.routes.recommendations import list_payload

        _, view, _ = engine.pipeline.source.load(engine.settings.default_model)
        users = [str(u) for u in view.user_ids]
        online, settings = self.app.state.online, engine.settings.online
        self.done, self.total = 0, len(users)
        checked = time.monotonic()
        for user in users:
            if self._stop.is_set():
                return False
            if time.monotonic() - checked > 1.0:  # a second's work at most on a voided key
                checked = time.monotonic()
                if self._key(engine) != key or not online.claim("precompute", self.owner, 2 * IDLE_S + 60):
                    return False
            generation, payload = online.cached(user, key)
            if payload is None:
                # logged as shown when a request first answers it (``served_from_cache``)
                payload = list_payload(engine, self.app.state.metrics, user, settings.precompute_n, None, log=False)
                online.cache(user, key, generation, payload, settings.precompute_seconds)
                time.sleep(0)  # let a request thread take the interpreter between lists
            self.done += 1
        return True
