"""The SQL side of shopper portraits: per-shopper aggregates that each accepted batch adds to
(``shelfwise.profiles`` computes what to add; this only stores and reads it).

Every write is one ``INSERT .. ON CONFLICT DO UPDATE`` per table whose update adds the batch's
sums to the stored ones (or keeps the earlier first time, the later last time), so two
processes adding batches for one shopper at once both count: no read-modify-write.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from shelfwise.store.tables import category_transitions_table, portrait_counts_table, portrait_stats_table

#: Columns of a portrait stats row (``portrait_stats`` table), in order.
STAT_COLUMNS = tuple(c.name for c in portrait_stats_table.columns)
_SUMS = ("n_events", "n_purchases", "spend", "activity", "rel_bought_sum", "rel_bought_n",
         "rel_viewed_sum", "rel_viewed_n")
_IN_CHUNK = 500  # ids per IN (...) list: well under every driver's parameter limit


def _later(column: str) -> str:
    """SQL: the new value where it is set and later than the stored one (or that is unset)."""
    return (f"CASE WHEN excluded.{column} IS NOT NULL AND (portrait_stats.{column} IS NULL OR "
            f"excluded.{column} > portrait_stats.{column}) THEN excluded.{column} ELSE portrait_stats.{column} END")


def _upserts(mark: str, stats: list[dict], counts: list[dict], transitions: list[dict]):
    """(SQL, columns, rows) per table: INSERT .. ON CONFLICT DO UPDATE adding to the stored
    row (spelled alike by SQLite and PostgreSQL)."""
    t = "portrait_stats"
    update = [f"{c} = {t}.{c} + excluded.{c}" for c in _SUMS]
    update += [f"first_ts = CASE WHEN excluded.first_ts < {t}.first_ts THEN excluded.first_ts ELSE {t}.first_ts END",
               f"last_ts = CASE WHEN excluded.last_ts > {t}.last_ts THEN excluded.last_ts ELSE {t}.last_ts END",
               f"last_purchase_ts = {_later('last_purchase_ts')}",
               f"last_category = CASE WHEN excluded.last_category_ts IS NOT NULL AND ({t}.last_category_ts IS NULL "
               f"OR excluded.last_category_ts >= {t}.last_category_ts) THEN excluded.last_category "
               f"ELSE {t}.last_category END",
               f"last_category_ts = {_later('last_category_ts')}"]

    def insert(table: str, columns: tuple[str, ...], keys: tuple[str, ...], sets: list[str]) -> str:
        quoted = ", ".join(f'"{c}"' for c in columns)
        # bandit B608: constant table and column names; values are bound
        return (f"INSERT INTO {table} ({quoted}) VALUES ({', '.join([mark] * len(columns))}) "  # nosec B608
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(sets)}")

    yield insert(t, STAT_COLUMNS, ("user_id",), update), STAT_COLUMNS, stats
    yield (insert("portrait_counts", ("user_id", "kind", "key", "value"), ("user_id", "kind", '"key"'),
                  ["value = portrait_counts.value + excluded.value"]), ("user_id", "kind", "key", "value"), counts)
    yield (insert("category_transitions", ("prev", "next", "count"), ("prev", "next"),
                  ['"count" = category_transitions."count" + excluded."count"']),
           ("prev", "next", "count"), transitions)


class PortraitStore:
    """Mixin of ``SqlEventStore``: needs ``self.engine``, ``self.dialect_insert`` and ``self._read``."""

    def add_portrait_aggregates(self, stats: list[dict], counts: list[dict],
                                transitions: list[dict]) -> None:
        """Add one batch's aggregates in one transaction. stats: dicts of ``STAT_COLUMNS``;
        counts: dicts (user_id, kind, key, value); transitions: dicts (prev, next, count)."""
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        with self.engine.begin() as conn:
            # the driver's executemany of one prepared statement: SQLAlchemy's per-row
            # parameter handling cost more than the database work on a 100k-event import
            cursor = conn.connection.driver_connection.cursor()
            for sql, columns, rows in _upserts(mark, stats, counts, transitions):
                if rows:
                    cursor.executemany(sql, [tuple(r[c] for c in columns) for r in rows])

    def portrait_aggregates(self, user_ids: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(stats, counts) frames for the given shoppers (None: every shopper): stats has
        ``STAT_COLUMNS``, one row per shopper with a portrait; counts has user_id, kind, key,
        value."""
        s, c = portrait_stats_table, portrait_counts_table
        if user_ids is None:
            stats = self._read(sa.select(s).order_by(s.c.user_id))
            counts = self._read(sa.select(c))
        else:
            # IN (...) lists are expanded at execution, which the driver-level ``_read`` skips
            parts_s, parts_c = [], []
            ids = list(dict.fromkeys(map(str, user_ids)))
            with self.engine.connect() as conn:
                for k in range(0, len(ids), _IN_CHUNK):
                    chunk = ids[k:k + _IN_CHUNK]
                    parts_s.extend(conn.execute(sa.select(s).where(s.c.user_id.in_(chunk))).all())
                    parts_c.extend(conn.execute(sa.select(c).where(c.c.user_id.in_(chunk))).all())
            stats = pd.DataFrame([tuple(r) for r in parts_s], columns=[col.name for col in s.columns])
            counts = pd.DataFrame([tuple(r) for r in parts_c], columns=[col.name for col in c.columns])
        for col in ("first_ts", "last_ts", "spend", "last_purchase_ts", "activity", "rel_bought_sum",
                    "rel_viewed_sum", "last_category_ts"):
            stats[col] = pd.to_numeric(stats[col]).astype("float64")
        counts["value"] = pd.to_numeric(counts["value"]).astype("float64")
        return stats, counts

    def last_categories(self, user_ids: list[str]) -> dict[str, tuple[str, float]]:
        """{shopper: (last category, its time)} for those that have one."""
        s = portrait_stats_table.c
        out = {}
        ids = list(dict.fromkeys(map(str, user_ids)))
        with self.engine.connect() as conn:
            for k in range(0, len(ids), _IN_CHUNK):
                q = (sa.select(s.user_id, s.last_category, s.last_category_ts)
                     .where(s.user_id.in_(ids[k:k + _IN_CHUNK]), s.last_category.is_not(None)))
                out.update({u: (cat, float(ts)) for u, cat, ts in conn.execute(q)})
        return out

    def category_transitions(self) -> pd.DataFrame:
        """The shop's category transition counts: columns prev, next, count."""
        frame = self._read(sa.select(category_transitions_table))
        frame["count"] = pd.to_numeric(frame["count"]).astype("float64")
        return frame

    def clear_portraits(self, user_ids: list[str] | None = None) -> None:
        """Drop the aggregates of the given shoppers (None: all of them and the transitions),
        before they are rebuilt from the log or when a shopper withdraws consent."""
        with self.engine.begin() as conn:
            if user_ids is None:
                for table in (portrait_stats_table, portrait_counts_table, category_transitions_table):
                    conn.execute(sa.delete(table))
                return
            ids = list(dict.fromkeys(map(str, user_ids)))
            for k in range(0, len(ids), _IN_CHUNK):
                for table in (portrait_stats_table, portrait_counts_table):
                    conn.execute(sa.delete(table).where(table.c.user_id.in_(ids[k:k + _IN_CHUNK])))

    def withheld(self, user_ids: list[str] | None = None) -> set[str]:
        """The given shoppers (None: every stored one) whose profile says ``consent`` is false."""
        from shelfwise.store.tables import users_table

        u = users_table.c
        out: set[str] = set()
        with self.engine.connect() as conn:
            if user_ids is None:
                return {r[0] for r in conn.execute(sa.select(u.user_id).where(u.consent.is_(False)))}
            ids = list(dict.fromkeys(map(str, user_ids)))
            for k in range(0, len(ids), _IN_CHUNK):
                q = sa.select(u.user_id).where(u.user_id.in_(ids[k:k + _IN_CHUNK]), u.consent.is_(False))
                out.update(r[0] for r in conn.execute(q))
        return out

    def newest_event_time(self) -> float | None:
        """The newest event's Unix time (the timestamp index answers it), None when empty."""
        from shelfwise.store.tables import events_table

        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(events_table.c.timestamp))).scalar()
        return None if value is None else float(value)
