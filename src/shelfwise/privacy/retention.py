"""Raw events kept only as the shop's settings allow.

``privacy.event_retention_days``: events older than that are deleted. ``privacy.no_consent_events``:
what is kept of shoppers whose profile withholds consent: "keep" (their events, which training
and serving leave out), "aggregate" (reduced to per-item counts, nothing per shopper) or
"drop". Either way the deleted events' per-item counts go to the store's ``item_counts``
(dropped ones excepted), in the transaction that deletes them; trained models, model versions
and shopper portraits are aggregates already and are not touched (a shopper reduced for want of
consent also loses their portrait). ``shelfwise retention`` applies it once; ``shelfwise serve``
every ``privacy.retention_every_minutes`` (``Chore``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

log = logging.getLogger("shelfwise.retention")
DAY = 86_400.0


@dataclass(frozen=True)
class RetentionReport:
    expired: int  # events older than the retention period, deleted (counted in item_counts)
    shoppers: int  # shoppers without consent whose events were reduced or dropped
    reduced: int  # their events deleted


def apply_retention(store, privacy, now: float | None = None) -> RetentionReport:
    """Apply ``privacy`` (``config.PrivacySettings``) to ``store`` once."""
    now = time.time() if now is None else now
    shoppers, reduced = 0, 0
    if privacy.no_consent_events != "keep":
        ids = store.shoppers_without_consent(privacy.consent_default)
        if ids:
            reduced = store.reduce_shoppers(ids, count=privacy.no_consent_events == "aggregate")
            store.clear_portraits(ids)
            shoppers = len(ids)
    expired = 0
    if privacy.event_retention_days > 0:
        expired = store.expire_events(now - privacy.event_retention_days * DAY)
    return RetentionReport(expired, shoppers, reduced)


def needed(privacy) -> bool:
    return privacy.event_retention_days > 0 or privacy.no_consent_events != "keep"


class Chore:
    """``apply_retention`` every ``privacy.retention_every_minutes`` in a daemon thread, first
    at start."""

    def __init__(self, store, privacy):
        self.store, self.privacy = store, privacy
        self.seconds = privacy.retention_every_minutes * 60
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="shelfwise-retention", daemon=True)

    def start(self) -> Chore:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while True:
            try:
                done = apply_retention(self.store, self.privacy)
                if done.expired or done.reduced:
                    log.info("retention: %d old event(s) deleted, %d event(s) of %d shopper(s) without "
                             "consent reduced", done.expired, done.reduced, done.shoppers)
            except Exception:  # the loop must outlive a store hiccup; the next round retries
                log.exception("applying the retention settings failed")
            if self._stop.wait(self.seconds):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)  # a run in progress finishes its transaction first
        self.store.close()
