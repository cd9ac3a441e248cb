"""Group commit of single events: one writer thread gathers the single events that arrive
together (for up to ``serve.group_commit_ms``, at most ``MAX_ROWS``) and stores them in one
transaction; each request is answered only after that commit, so an acknowledged event is
durable exactly as if it had been committed alone, at a fraction of the commits.

    commit = GroupCommit(engine.store, on_commit=state_update, window_s=0.002)
    added = await asyncio.wrap_future(commit.submit(row))   # 1 new, 0 re-sent
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import pandas as pd

from shelfwise.data.validation import validate_events

MAX_ROWS = 2000
log = logging.getLogger("shelfwise.api")


class GroupCommit:
    def __init__(self, store, on_commit: Callable[[list[dict]], None], window_s: float = 0.002):
        self.store, self.on_commit, self.window_s = store, on_commit, window_s
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="shelfwise-group-commit", daemon=True)
        self._thread.start()

    def submit(self, row: dict) -> Future:
        """Queue one raw event row (as ``EventIn.row`` gives it); the future holds 1 if it was
        stored, 0 if its id was already stored, or the error (``MalformedInput``...)."""
        future: Future = Future()
        self._queue.put((row, future))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            pending = [first]
            deadline = time.monotonic() + self.window_s
            while len(pending) < MAX_ROWS:
                try:  # what has arrived already, then what arrives before the deadline
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                pending.append(item)
            self._commit(pending)

    def _commit(self, pending: list[tuple[dict, Future]]) -> None:
        rows = [row for row, _ in pending]
        try:
            clean, _ = validate_events(pd.DataFrame(rows), on_error="fail", source="event")
        except Exception:  # some row is bad: each request gets its own answer
            for row, future in pending:
                self._commit_alone(row, future)
            return
        try:
            added = self.store.append_event_rows(clean)
            self.on_commit([row for row, a in zip(rows, added, strict=True) if a])
        except Exception as exc:  # the store failed: no request is acknowledged
            log.exception("group commit of %d events failed", len(rows))
            for _, future in pending:
                future.set_exception(exc)
            return
        for (_, future), a in zip(pending, added, strict=True):
            future.set_result(a)

    def _commit_alone(self, row: dict, future: Future) -> None:
        try:
            clean, _ = validate_events(pd.DataFrame([row]), on_error="fail", source="event")
            added = self.store.append_event_rows(clean)
            self.on_commit([row] if added[0] else [])
            future.set_result(added[0])
        except Exception as exc:
            future.set_exception(exc)
