"""What an accepted event moves at once, whatever path it came by (HTTP, CLI import,
Python): the online state's popularity counters, the shopper's list-cache generation and
recent items, the live "this week" counts, and the exploration bandit, when the event says
(``context.recommendation_id``) which served list it followed.

``Feedback.accepted(rows)`` runs after the rows are durable in the store, in the process that
stored them; with a shared online state (Redis) every serving process sees the effect.
"""

from __future__ import annotations

import logging
import time

from shelfwise.data.schemas import context_dict
from shelfwise.errors import NotTrained
from shelfwise.serving.pipeline import BANDIT, WEEK_DAYS

log = logging.getLogger("shelfwise.feedback")


class Feedback:
    def __init__(self, settings, versions, online, impressions):
        self.settings, self.versions, self.online, self.impressions = settings, versions, online, impressions

    def accepted(self, rows: list[dict], counted: bool = True) -> None:
        """Record stored event rows (user_id, item_id, event_type, timestamp, context); with
        ``counted`` False (a batch that was partly a re-send: which rows were new is not
        known) they move no popularity counter."""
        if not rows or self.online is None:
            return
        weights = self.settings.behaviour_weights
        counters, once = None, False
        if counted:
            try:
                popular, _ = self.versions.load("popular")
                counters = self.versions.active()["popular"]
                once = getattr(popular, "count", "users") == "users"  # distinct shoppers per item
            except NotTrained:
                pass
        moved = [(str(r["user_id"]), None if r.get("item_id") is None else str(r["item_id"]),
                  float(weights.get(str(r["event_type"]), 0.0))) for r in rows]
        self.online.accept(moved, counters, once)
        horizon = WEEK_DAYS * 86400
        since = time.time() - horizon
        recent = [(u, i, float(r["timestamp"])) for (u, i, w), r in zip(moved, rows, strict=True)
                  if i is not None and w > 0 and r.get("timestamp") is not None and float(r["timestamp"]) >= since]
        if recent:
            self.online.touch(recent, horizon)
        self._join(rows, moved)

    def _join(self, rows: list[dict], moved: list) -> None:
        """Clicks on an exploration slot, named by the list's recommendation id, feed the bandit."""
        if self.impressions is None:
            return
        for (_user, item, weight), row in zip(moved, rows, strict=True):
            rid = context_dict(row.get("context")).get("recommendation_id")
            if not rid or item is None or weight <= 0:
                continue
            shown = self.impressions.find(str(rid))
            if shown is None or len(shown) == 0:
                continue
            hit = shown[(shown["item_id"] == item) & (shown["source"] == "explore")]
            if len(hit) and hit["arm"].iloc[0] is not None:
                self.online.bandit_clicked(BANDIT, str(rid), item, str(hit["arm"].iloc[0]))
