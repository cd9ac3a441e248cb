"""The SQL side of the impression log: every served list's items, positions and propensities."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from shelfwise.store.base import IMPRESSION_COLUMNS, check_impressions
from shelfwise.store.tables import impressions_table


class ImpressionStore:
    """Mixin of ``SqlEventStore``: needs ``self.engine``, ``self._read`` and
    ``self.binary_collation``."""

    def log_impressions(self, rows: list[dict]) -> int:
        clean = check_impressions(rows)
        if not clean:
            return 0
        # One driver-level executemany of a prepared single-row INSERT: a request thread
        # waits on the GIL this flush holds, and SQLAlchemy's multi-row VALUES cost ~20 ms of
        # Python per 200 rows where this costs well under 1 ms. Both drivers sum executemany's
        # rowcount, so a repeat skipped by ON CONFLICT is not counted.
        placeholder = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        # bandit B608: constant table and column names; values are bound
        sql = (f"INSERT INTO {impressions_table.name} ({', '.join(IMPRESSION_COLUMNS)}) "  # nosec B608
               f"VALUES ({', '.join([placeholder] * len(IMPRESSION_COLUMNS))}) "
               "ON CONFLICT (recommendation_id, position) DO NOTHING")
        with self.engine.begin() as conn:
            added = conn.exec_driver_sql(sql, [tuple(row[c] for c in IMPRESSION_COLUMNS) for row in clean]).rowcount
        return added

    def impressions(self, recommendation_id: str | None = None, *, user_id: str | None = None,
                    since: float | None = None, limit: int | None = None) -> pd.DataFrame:
        t = impressions_table.c
        query = sa.select(*[t[c] for c in IMPRESSION_COLUMNS])
        if recommendation_id is not None:
            query = query.where(t.recommendation_id == recommendation_id)
        if user_id is not None:
            query = query.where(t.user_id == user_id)
        if since is not None:
            query = query.where(t.created_at >= float(since))
        rec = t.recommendation_id.collate(self.binary_collation) if self.binary_collation else t.recommendation_id
        query = query.order_by(t.created_at, rec, t.position)
        if limit is not None:
            query = query.limit(int(limit))
        frame = self._read(query)
        frame["position"] = frame["position"].astype("int64")
        frame["created_at"] = frame["created_at"].astype("float64")
        frame["propensity"] = pd.to_numeric(frame["propensity"]).astype("float64")
        for name in ("arm", "experiment", "variant"):  # None where unset, never NaN
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
        return frame

    def prune_impressions(self, before: float) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(sa.delete(impressions_table)
                                    .where(impressions_table.c.created_at < float(before))).rowcount)
