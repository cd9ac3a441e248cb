"""SQLAlchemy Core backends: SQLite (default, one file) and PostgreSQL (production).

Both share one schema (``store.tables``) and one implementation; they differ only in how a
connection is set up and how "insert, skipping ids already stored" is spelled. ``open_store``
(``store.registry``) picks one by URL.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from shelfwise.data.schemas import EVENT_COLUMNS, Item, User
from shelfwise.store.base import DeletionReport, EventStore
from shelfwise.store.campaigns import CampaignStore
from shelfwise.store.experiments import ExperimentStore
from shelfwise.store.fields import attributes_aad, context_aad, open_column, seal_event_rows
from shelfwise.store.impressions import ImpressionStore
from shelfwise.store.portraits import PortraitStore
from shelfwise.store.retention import RetentionStore
from shelfwise.store.tables import (
    campaign_members_table,
    create_schema,
    events_table,
    impressions_table,
    items_table,
    portrait_counts_table,
    portrait_stats_table,
    side_feedback_table,
    users_table,
)

#: Tables that name a shopper: what a forget deletes from (and PostgreSQL vacuums after).
SHOPPER_TABLES = ("events", "users", "impressions", "gorse_feedback", "portrait_stats", "portrait_counts",
                  "campaign_members", "forget_pending")
POOL = {"pool_size": 32, "max_overflow": 16}  # see SqliteEventStore.__init__
ITEM_COLUMNS = [c.name for c in items_table.columns]
USER_COLUMNS = [c.name for c in users_table.columns]
_EVENT_INSERT_COLUMNS = list(EVENT_COLUMNS)


def _tuples(frame: pd.DataFrame) -> list[tuple]:
    """Rows as tuples with None for missing values; built column-wise (zip runs in C)."""
    cols = []
    for name in frame.columns:
        col = frame[name]
        values = col.to_numpy(dtype=object, copy=True)
        missing = col.isna().to_numpy()
        if missing.any():
            values[missing] = None
        cols.append(values.tolist())
    return list(zip(*cols, strict=True))


def _none_for_missing(frame: pd.DataFrame) -> list[dict]:
    obj = frame.astype(object)
    return obj.where(pd.notna(obj), None).to_dict("records")


class SqlEventStore(ImpressionStore, PortraitStore, CampaignStore, RetentionStore, ExperimentStore,
                    EventStore):
    """EventStore over SQLAlchemy Core. Use ``open_store(url)`` rather than this class."""

    dialect_insert = staticmethod(sa.insert)
    binary_collation: str | None = None  # orders text by code point, as SQLite does by default

    def __init__(self, url: str, **engine_kwargs):
        self.url = url
        # hide_parameters: an error message or log line never carries stored values (ids, context)
        self.engine = sa.create_engine(url, hide_parameters=True, **engine_kwargs)
        self._configure()
        create_schema(self.engine)

    def _configure(self) -> None:
        pass

    # -- events ------------------------------------------------------------------
    def append_events(self, events: pd.DataFrame) -> int:
        if len(events) == 0:
            return 0
        missing = set(_EVENT_INSERT_COLUMNS) - set(events.columns)
        if missing:
            raise ValueError(f"event frame lacks column(s): {sorted(missing)}")
        rows = seal_event_rows(self.cipher, _tuples(events[_EVENT_INSERT_COLUMNS]))
        with self.engine.begin() as conn:
            return self._bulk_insert_events(conn, rows)

    def append_event_tuples(self, rows: list[tuple]) -> int:
        """Append validated events given as tuples in ``EVENT_COLUMNS`` order in one
        transaction; returns how many were new (the HTTP batch path: no frame to build)."""
        if not rows:
            return 0
        rows = seal_event_rows(self.cipher, rows)
        with self.engine.begin() as conn:
            return self._bulk_insert_events(conn, rows)

    def append_event_rows(self, events: pd.DataFrame | list[tuple]) -> list[int]:
        """Append validated events (a frame, or tuples in ``EVENT_COLUMNS`` order) in one
        transaction, row by row; per row 1 if it was new, 0 if its id was already stored. The
        group commit of single events uses it: one commit for many requests, each told about
        its own event."""
        if len(events) == 0:
            return []
        rows = _tuples(events[_EVENT_INSERT_COLUMNS]) if isinstance(events, pd.DataFrame) else events
        rows = seal_event_rows(self.cipher, rows)
        with self.engine.begin() as conn:
            return self._insert_rows(conn, rows)

    def _insert_rows(self, conn, rows: list[tuple]) -> list[int]:
        cols = ", ".join(_EVENT_INSERT_COLUMNS)
        marks = ", ".join(["%s"] * len(_EVENT_INSERT_COLUMNS))
        # bandit B608: constant column names; values are bound
        sql = (f"INSERT INTO events ({cols}) VALUES ({marks}) "  # nosec B608
               "ON CONFLICT (user_id, event_id) DO NOTHING")
        cursor = conn.connection.driver_connection.cursor()
        out = []
        for row in rows:
            cursor.execute(sql, row)
            out.append(max(cursor.rowcount, 0))
        return out

    def _bulk_insert_events(self, conn, rows: list[tuple]) -> int:
        """Insert tuples in ``EVENT_COLUMNS`` order, skipping stored ids; returns rows added."""
        stmt = self.dialect_insert(events_table).on_conflict_do_nothing(
            index_elements=["user_id", "event_id"])
        return conn.execute(stmt, [dict(zip(_EVENT_INSERT_COLUMNS, r, strict=True))
                                   for r in rows]).rowcount

    def _read(self, query) -> pd.DataFrame:
        # Compile once and fetch plain tuples from the driver's cursor: building SQLAlchemy
        # Row objects costs more than the query itself on a full snapshot.
        compiled = query.compile(self.engine, compile_kwargs={"literal_binds": False})
        with self.engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()
            params = compiled.params
            if self.engine.dialect.paramstyle == "qmark":
                cursor.execute(str(compiled), [params[k] for k in compiled.positiontup])
            else:
                cursor.execute(str(compiled), params)
            columns = [d[0] for d in cursor.description]
            frame = pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
            cursor.close()
        return frame

    def _events_frame(self, query) -> pd.DataFrame:
        frame = self._read(query)
        frame["timestamp"] = frame["timestamp"].astype("float64")
        frame["value"] = pd.to_numeric(frame["value"]).astype("float64")
        if len(frame):
            frame["context"] = _opened(frame, "context", open_column(
                self.cipher, frame["context"].tolist(), frame["user_id"].tolist(), context_aad))
        return frame

    def snapshot(self) -> pd.DataFrame:
        cols = [events_table.c[c] for c in EVENT_COLUMNS]
        return self._events_frame(sa.select(*cols).order_by(events_table.c.seq))

    def user_history(self, user_id: str) -> pd.DataFrame:
        cols = [events_table.c[c] for c in EVENT_COLUMNS]
        q = (sa.select(*cols).where(events_table.c.user_id == user_id)
             .order_by(events_table.c.timestamp, events_table.c.seq))
        return self._events_frame(q)

    def user_events(self, user_id: str) -> tuple[list, list[str], np.ndarray]:
        # one driver-level statement, compiled once: this runs on every recommendation
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        # bandit B608: only the driver's placeholder is formatted in
        sql = ("SELECT item_id, event_type, timestamp FROM events WHERE user_id = "  # nosec B608
               f"{mark} ORDER BY timestamp, seq")
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(sql, (user_id,)).fetchall()
        if not rows:
            return [], [], np.zeros(0)
        items, types, times = zip(*rows, strict=True)
        return list(items), list(types), np.asarray(times, dtype=np.float64)

    def consent(self, user_id: str) -> bool | None:
        # driver-level like user_events: the serving path asks this on every list
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        with self.engine.connect() as conn:
            # bandit B608: only the driver's placeholder is formatted in
            row = conn.exec_driver_sql(f"SELECT consent FROM users WHERE user_id = {mark}", (user_id,)).fetchone()  # nosec B608
        return None if row is None else bool(row[0])

    def events_since(self, timestamp: float) -> pd.DataFrame:
        t = events_table.c
        frame = self._read(sa.select(t.user_id, t.item_id, t.event_type, t.timestamp)
                           .where(t.timestamp >= float(timestamp)).order_by(t.timestamp, t.seq))
        frame["timestamp"] = frame["timestamp"].astype("float64")
        return frame

    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(events_table)).scalar())

    # -- items and users -------------------------------------------------------
    def _upsert(self, table: sa.Table, rows: list[dict], key: str) -> int:
        if not rows:
            return 0
        stmt = self.dialect_insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[key],
            set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name != key})
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def upsert_items(self, items) -> int:
        return self._upsert(items_table, [_item_row(r) for r in _records(items)], "item_id")

    def upsert_users(self, users) -> int:
        rows = [_user_row(r) for r in _records(users)]
        if self.cipher is not None:
            for row in rows:
                row["attributes"] = self.cipher.encrypt(row["attributes"], attributes_aad(row["user_id"]))
        return self._upsert(users_table, rows, "user_id")

    def out_of_stock(self) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(items_table.c.item_id).where(items_table.c.in_stock.is_(False)))
            return {r[0] for r in rows}

    def items(self) -> pd.DataFrame:
        frame = self._read(sa.select(items_table).order_by(items_table.c.item_id))
        frame["category"] = frame["category"].map(lambda s: json.loads(s) if s else [])
        frame["attributes"] = frame["attributes"].map(lambda s: json.loads(s) if s else {})
        frame["price"] = pd.to_numeric(frame["price"]).astype("float64")
        frame["in_stock"] = frame["in_stock"].astype(bool)  # SQLite gives 0 / 1
        return frame

    def users(self) -> pd.DataFrame:
        frame = self._read(sa.select(users_table).order_by(users_table.c.user_id))
        if len(frame):
            frame["attributes"] = _opened(frame, "attributes", open_column(
                self.cipher, frame["attributes"].tolist(), frame["user_id"].tolist(), attributes_aad))
        frame["attributes"] = frame["attributes"].map(lambda s: json.loads(s) if s else {})
        return frame

    def delete_user(self, user_id: str) -> DeletionReport:
        with self.engine.begin() as conn:
            n_events = conn.execute(
                sa.delete(events_table).where(events_table.c.user_id == user_id)).rowcount
            n_users = conn.execute(
                sa.delete(users_table).where(users_table.c.user_id == user_id)).rowcount
            n_shown = conn.execute(
                sa.delete(impressions_table).where(impressions_table.c.user_id == user_id)).rowcount
            conn.execute(sa.delete(side_feedback_table).where(side_feedback_table.c.user_id == user_id))
            for table in (portrait_stats_table, portrait_counts_table, campaign_members_table):
                conn.execute(sa.delete(table).where(table.c.user_id == user_id))
        self.flush_deleted()
        return DeletionReport(user_id, int(n_events), int(n_users), int(n_shown))

    def flush_deleted(self, tables: tuple[str, ...] | None = None) -> None:
        """What a backend does so deleted rows leave its files (SQLite: checkpoint the WAL;
        PostgreSQL: VACUUM ``tables``, default every table that names a shopper)."""

    def close(self) -> None:
        self.engine.dispose()


def _opened(frame: pd.DataFrame, column: str, values: list) -> pd.Series:
    """Decrypted cells as the column they replace (same dtype, so missing stays as it was)."""
    return pd.Series(values, index=frame.index, dtype=frame[column].dtype)


def _records(rows) -> list[dict]:
    if isinstance(rows, pd.DataFrame):
        return _none_for_missing(rows)
    return [r.model_dump() if hasattr(r, "model_dump") else dict(r) for r in rows]


def _item_row(record: dict) -> dict:
    item = Item(**{k: v for k, v in record.items() if k in ITEM_COLUMNS and v is not None})
    row = item.model_dump()
    row["category"] = json.dumps(row["category"])
    row["attributes"] = json.dumps(row["attributes"], sort_keys=True, default=str)
    return row


def _user_row(record: dict) -> dict:
    user = User(**{k: v for k, v in record.items() if k in USER_COLUMNS and v is not None})
    row = user.model_dump()
    row["attributes"] = json.dumps(row["attributes"], sort_keys=True, default=str)
    return row


class SqliteEventStore(SqlEventStore):
    dialect_insert = staticmethod(sqlite.insert)

    def __init__(self, url: str):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # The API reads each shopper's events from up to 40 threads (anyio's pool): with
        # SQLAlchemy's default 5 + 10 they queued for a connection, and the overflow ones
        # were opened and closed (PRAGMAs included) on every request.
        super().__init__(url, **({} if path in ("", ":memory:") else POOL))

    def _configure(self) -> None:
        @sa.event.listens_for(self.engine, "connect")
        def _pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            # WAL: readers never block the writer, and a killed writer leaves a consistent
            # database (the uncommitted tail of the log is discarded on next open).
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA cache_size=-131072")  # 128 MiB: keeps the id index hot
            # a deleted row's bytes are overwritten with zeros, not left in free pages
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

    def flush_deleted(self, tables: tuple[str, ...] | None = None) -> None:
        # the zeroed pages are in the WAL until a checkpoint copies them over the old ones
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    def _bulk_insert_events(self, conn, rows: list[tuple]) -> int:
        # The driver's executemany with tuples runs at C speed; SQLAlchemy's per-row dict
        # handling would halve bulk-import throughput.
        cols = ", ".join(_EVENT_INSERT_COLUMNS)
        marks = ", ".join("?" * len(_EVENT_INSERT_COLUMNS))
        cursor = conn.connection.driver_connection.cursor()
        before = conn.connection.driver_connection.total_changes
        cursor.executemany(f"INSERT OR IGNORE INTO events ({cols}) VALUES ({marks})", rows)
        return conn.connection.driver_connection.total_changes - before

    def _insert_rows(self, conn, rows: list[tuple]) -> list[int]:
        cols = ", ".join(_EVENT_INSERT_COLUMNS)
        marks = ", ".join("?" * len(_EVENT_INSERT_COLUMNS))
        driver = conn.connection.driver_connection
        cursor = driver.cursor()
        out = []
        for row in rows:
            before = driver.total_changes
            cursor.execute(f"INSERT OR IGNORE INTO events ({cols}) VALUES ({marks})", row)
            out.append(driver.total_changes - before)
        return out


class PostgresEventStore(SqlEventStore):
    dialect_insert = staticmethod(postgresql.insert)
    binary_collation = "C"  # the database's own collation may order "b" before "C"

    def __init__(self, url: str):
        # psycopg 3 is the driver we install; accept the plain postgresql:// spelling too.
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        super().__init__(url, pool_pre_ping=True, **POOL)

    def flush_deleted(self, tables: tuple[str, ...] | None = None) -> None:
        # A deleted row is a dead tuple until VACUUM reclaims it (its bytes stay in the page
        # until the space is reused); VACUUM cannot run inside a transaction.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in tables or SHOPPER_TABLES:
                conn.exec_driver_sql(f"VACUUM {table}")

    def _bulk_insert_events(self, conn, rows: list[tuple]) -> int:
        # COPY into a transaction-local staging table, then one INSERT .. ON CONFLICT: an
        # order of magnitude faster than batched INSERTs, and still idempotent on event_id.
        cols = ", ".join(_EVENT_INSERT_COLUMNS)
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS events_stage (ord BIGSERIAL, event_id TEXT, "
            "user_id TEXT, item_id TEXT, event_type TEXT, timestamp DOUBLE PRECISION, "
            "session_id TEXT, value DOUBLE PRECISION, context TEXT) ON COMMIT DELETE ROWS")
        with cursor.copy(f"COPY events_stage ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # DISTINCT ON keeps the first copy of an id repeated inside one batch; the outer
        # ORDER BY keeps arrival order in seq.
        cursor.execute(
            # bandit B608: constant column names
            f"INSERT INTO events ({cols}) SELECT {cols} FROM ("  # nosec B608
            f"  SELECT DISTINCT ON (user_id, event_id) * FROM events_stage"
            f"  ORDER BY user_id, event_id, ord) s "
            f"ORDER BY s.ord ON CONFLICT (user_id, event_id) DO NOTHING")
        return cursor.rowcount


__all__ = ["PostgresEventStore", "SqlEventStore", "SqliteEventStore"]
