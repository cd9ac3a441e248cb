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

from shelfwise.data.schemas import derive_event_id
from shelfwise.data.validation import _BAD, _context_json, validate_events

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
        plain, rows, futures = [], [], []
        for row, future in pending:
            stored = plain_row(row)
            if stored is None:  # an unusual event (a search, an ISO time...): the general path
                self._commit_alone(row, future)
            else:
                plain.append(stored)
                rows.append(row)
                futures.append(future)
        if not plain:
            return
        try:
            added = self.store.append_event_rows(plain)
            self.on_commit([row for row, a in zip(rows, added, strict=True) if a])
        except Exception as exc:  # the store failed: no request is acknowledged
            log.exception("group commit of %d events failed", len(plain))
            for future in futures:
                future.set_exception(exc)
            return
        for future, a in zip(futures, added, strict=True):
            future.set_result(a)

    def _commit_alone(self, row: dict, future: Future) -> None:
        try:
            clean, _ = validate_events(pd.DataFrame([row]), on_error="fail", source="event")
            added = self.store.append_event_rows(clean)
            self.on_commit([row] if added[0] else [])
            future.set_result(added[0])
        except Exception as exc:
            future.set_exception(exc)


def plain_row(row: dict) -> tuple | None:
    """The stored tuple (``EVENT_COLUMNS`` order) of an event row as ``EventIn.row`` gives it,
    when ``validate_events`` would store it exactly so: a numeric time, an item, a canonical
    type, ids already stripped (pydantic did that). None for anything else, which takes the
    general path. Built per row, since pandas costs milliseconds on a one-row frame."""
    ts, item, event_id = row["timestamp"], row["item_id"], row.get("event_id")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or item is None:
        return None
    if event_id is not None and (event_id != event_id.strip() or not event_id):
        return None
    value = None if row.get("value") is None else float(row["value"])
    context = _context_json(row.get("context"))
    if context is _BAD:
        return None
    user, kind, session = row["user_id"], str(row["event_type"]), row.get("session_id")
    event_id = event_id or derive_event_id(user, item, kind, float(ts), session, value)
    return (event_id, user, item, kind, float(ts), session, value, context)
