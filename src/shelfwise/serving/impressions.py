"""The impression log: what every answered list showed, for feedback and off-policy
evaluation.

A served list is one row per item (recommendation id, position, item, shopper, time, model,
version, policy, source, the propensity with which the policy showed the item, the bandit's
arm, the experiment and variant it was served in: for an interleaved list, the variant whose
list placed the item). Rows are buffered and written to the store by a background thread every
``flush_seconds`` (a request does not wait for a commit); ``pending`` answers for rows not
written yet, so a click that arrives before the flush still joins its list. Rows older than
``retention_days`` are deleted as the log writes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict

import pandas as pd

log = logging.getLogger("shelfwise.impressions")
PRUNE_EVERY_S = 3600.0


class ImpressionLog:
    def __init__(self, store, *, flush_seconds: float = 0.2, retention_days: float = 90.0):
        self.store, self.flush_seconds, self.retention_days = store, flush_seconds, retention_days
        self._rows: list[dict] = []
        self._pending: OrderedDict[str, list[dict]] = OrderedDict()  # by recommendation id
        self._seen: OrderedDict[str, None] = OrderedDict()  # ids logged lately (cached lists re-served)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._pruned = 0.0
        self._thread: threading.Thread | None = None

    def log(self, served, user_id: str, arms: dict[str, str] | None = None) -> None:
        """Queue the rows of one served list (``serving.types.ServedList``)."""
        now = time.time()
        rows = [{"recommendation_id": served.recommendation_id, "position": k + 1, "item_id": r.item_id,
                 "user_id": user_id, "created_at": now, "model": served.model[:64],
                 "version": (served.version or "")[:64], "policy": served.policy[:64], "source": r.source,
                 "propensity": r.propensity, "arm": (arms or {}).get(r.item_id),
                 "experiment": served.experiment, "variant": r.team or served.variant}
                for k, r in enumerate(served.items)]
        self._queue(served.recommendation_id, rows)

    def _queue(self, rid: str, rows: list[dict]) -> None:
        if not rows:
            return
        with self._lock:
            self._rows.extend(rows)
            self._pending[rid] = rows
            self._seen[rid] = None
            while len(self._pending) > 50_000:
                self._pending.popitem(last=False)
            while len(self._seen) > 200_000:
                self._seen.popitem(last=False)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="shelfwise-impressions", daemon=True)
                self._thread.start()

    def log_answer(self, body: dict, user_id: str) -> None:
        """Queue a list answered again from its JSON body (a cached or precomputed list); a
        list this process logged already is skipped here, and the store skips a re-sent row."""
        rid = body.get("recommendation_id")
        if not rid:
            return
        with self._lock:
            if rid in self._seen:
                return
        now = time.time()
        rows = [{"recommendation_id": rid, "position": k + 1, "item_id": item["item_id"], "user_id": user_id,
                 "created_at": now, "model": str(body.get("model", ""))[:64],
                 "version": str(body.get("version") or "")[:64], "policy": "ranked", "source": item["source"],
                 "propensity": item.get("propensity"), "arm": None, "experiment": body.get("experiment"),
                 "variant": item.get("team") or body.get("variant")}
                for k, item in enumerate(body.get("items", []))]
        self._queue(rid, rows)

    def pending(self, recommendation_id: str) -> pd.DataFrame | None:
        with self._lock:
            rows = self._pending.get(recommendation_id)
        return pd.DataFrame(rows) if rows else None

    def find(self, recommendation_id: str) -> pd.DataFrame:
        """The rows of one list, whether written yet or not (empty when unknown)."""
        rows = self.pending(recommendation_id)
        return rows if rows is not None else self.store.impressions(recommendation_id)

    def flush(self) -> int:
        """Write what is queued now; returns rows written."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        try:
            written = self.store.log_impressions(rows)
        except Exception:  # a failed write is retried on the next flush, never lost here
            log.exception("writing %d impression rows failed; retrying", len(rows))
            with self._lock:
                self._rows = rows + self._rows
            return 0
        with self._lock:
            for row in rows:
                self._pending.pop(row["recommendation_id"], None)
        if self.retention_days > 0 and time.monotonic() - self._pruned > PRUNE_EVERY_S:
            self._pruned = time.monotonic()
            self.store.prune_impressions(time.time() - self.retention_days * 86400)
        return written

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_seconds)
            self.flush()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
