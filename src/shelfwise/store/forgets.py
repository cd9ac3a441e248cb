"""The forget log: which deletions still wait for a training run without the shopper, and an
audit row per deletion (no personal data: when, by whom, how much was removed, which run
completed it)."""

from __future__ import annotations

import time
import uuid

import pandas as pd
import sqlalchemy as sa

from shelfwise.store.tables import forget_audit_table, forget_pending_table


class ForgetLog:
    """Over a store's SQLAlchemy engine (the same database as the events)."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def record(self, user_id: str, *, by: str, events: int, profile_rows: int, impressions: int,
               versions: int, at: float | None = None) -> str:
        """Note a deletion: pending until a training run completes it; returns the audit id."""
        at = time.time() if at is None else float(at)
        audit_id = uuid.uuid4().hex
        with self.engine.begin() as conn:
            conn.execute(sa.delete(forget_pending_table).where(forget_pending_table.c.user_id == user_id))
            conn.execute(sa.insert(forget_pending_table).values(user_id=user_id, requested_at=at))
            conn.execute(sa.insert(forget_audit_table).values(
                audit_id=audit_id, requested_at=at, requested_by=str(by)[:64], events_deleted=int(events),
                profile_rows_deleted=int(profile_rows), impressions_deleted=int(impressions),
                versions_scrubbed=int(versions)))
        return audit_id

    def pending(self) -> list[tuple[str, float]]:
        """(shopper id, requested at) of the deletions not yet completed, oldest first."""
        t = forget_pending_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.user_id, t.requested_at).order_by(t.requested_at)).fetchall()
        return [(str(u), float(at)) for u, at in rows]

    def complete(self, before: float, version: str) -> int:
        """Deletions requested before ``before`` are complete: a run started then, without
        those shoppers, serves every model (``version``). Returns how many."""
        p, a = forget_pending_table.c, forget_audit_table.c
        now = time.time()
        with self.engine.begin() as conn:
            done = conn.execute(sa.delete(forget_pending_table).where(p.requested_at < before)).rowcount
            conn.execute(sa.update(forget_audit_table)
                         .where(a.completed_at.is_(None), a.requested_at < before)
                         .values(refit_version=version, completed_at=now))
        return int(done)

    def audit(self) -> pd.DataFrame:
        """Every deletion, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(forget_audit_table)
                                .order_by(forget_audit_table.c.requested_at.desc())).fetchall()
        return pd.DataFrame(rows, columns=[c.name for c in forget_audit_table.columns])
