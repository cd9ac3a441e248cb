"""The SQL side of raw-event retention (``privacy.retention``): events deleted by age or by
shopper, their per-item counts kept in ``item_counts`` in the same transaction, so the
totals never miss or double-count an event, whatever is cut off."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from shelfwise.store.tables import events_table, item_counts_table, users_table

_IN_CHUNK = 5000  # ids per IN (...): under SQLite's bound variables per statement


class RetentionStore:
    """Mixin of ``SqlEventStore``: needs ``self.engine`` and ``flush_deleted``."""

    def _reduce(self, where, count: bool) -> int:
        e = events_table.c
        with self.engine.begin() as conn:
            if count:
                grouped = (sa.select(e.item_id, e.event_type, sa.func.count().label("count"))
                           .where(where, e.item_id.is_not(None)).group_by(e.item_id, e.event_type))
                insert = self.dialect_insert(item_counts_table).from_select(["item_id", "event_type", "count"], grouped)
                conn.execute(insert.on_conflict_do_update(
                    index_elements=["item_id", "event_type"],
                    set_={"count": item_counts_table.c["count"] + insert.excluded["count"]}))
            return int(conn.execute(sa.delete(events_table).where(where)).rowcount)

    def expire_events(self, before: float) -> int:
        """Delete events older than ``before`` (Unix seconds), adding them to the item counts;
        returns how many."""
        n = self._reduce(events_table.c.timestamp < float(before), count=True)
        if n:
            self.flush_deleted(("events",))
        return n

    def shoppers_without_consent(self, consent_default: bool) -> list[str]:
        """Shoppers with events whose profile withholds consent (and, when ``consent_default``
        is false, those with events and no profile)."""
        e, u = events_table.c, users_table.c
        if consent_default:
            who = e.user_id.in_(sa.select(u.user_id).where(u.consent.is_(False)))
        else:
            who = e.user_id.not_in(sa.select(u.user_id).where(u.consent.is_(True)))
        with self.engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(sa.select(e.user_id).where(who).distinct()))

    def reduce_shoppers(self, user_ids: list[str], count: bool) -> int:
        """Delete the shoppers' events, adding them to the item counts when ``count``
        (else dropping them); returns how many, a transaction per chunk of shoppers."""
        n = 0
        for k in range(0, len(user_ids), _IN_CHUNK):
            n += self._reduce(events_table.c.user_id.in_(user_ids[k:k + _IN_CHUNK]), count)
        if n:
            self.flush_deleted(("events",))
        return n

    def item_counts(self) -> pd.DataFrame:
        """The reduced counts: item_id, event_type, count (int64), by item then behaviour."""
        t = item_counts_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.item_id, t.event_type, t["count"]).order_by(t.item_id, t.event_type)).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=["item_id", "event_type", "count"]).astype(
            {"count": "int64"})
