"""Reading the tail of the event log (``events_since``), and databases made before the
impression log and the timestamp index: opening one adds both and keeps its data."""

from __future__ import annotations

import sqlalchemy as sa

from shelfwise.store import open_store
from shelfwise.store.tables import events_table, items_table, metadata, users_table

from .test_contract import _events


def test_events_since_reads_the_tail_oldest_first(store):
    store.append_events(_events(5, "u1", start=10.0))  # times 10 .. 14
    late = _events(2, "u2", start=12.0)  # stored after, at times 12 and 13: ties keep that order
    store.append_events(late)
    tail = store.events_since(12.0)
    assert tail.columns.tolist() == ["user_id", "item_id", "event_type", "timestamp"]
    assert tail["timestamp"].dtype == "float64"
    assert list(tail.itertuples(index=False, name=None)) == [
        ("u1", "i2", "view", 12.0), ("u2", "i0", "view", 12.0), ("u1", "i3", "view", 13.0),
        ("u2", "i1", "purchase", 13.0), ("u1", "i4", "purchase", 14.0)]
    assert store.events_since(14.5).empty
    assert len(store.events_since(0.0)) == 7


def _plan(store, sql: str) -> str:
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        # a test table is tiny, where a sequential scan is cheaper: ask whether the index
        # can serve the query at all
        conn.exec_driver_sql("SET enable_seqscan = off")
        return " ".join(str(r[0]) for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))


def test_events_since_reads_through_the_timestamp_index(store):
    store.append_events(_events(5))
    plan = _plan(store, "SELECT user_id, item_id, event_type, timestamp FROM events "
                        "WHERE timestamp >= 3.0 ORDER BY timestamp, seq")
    assert "ix_events_timestamp" in plan


def test_a_database_made_before_the_impression_log_opens_and_gains_it(store_url):
    old = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://", 1))
    metadata.create_all(old, tables=[events_table, items_table, users_table])
    with old.begin() as conn:  # the schema as it was: no timestamp index, no impressions
        conn.exec_driver_sql("DROP INDEX ix_events_timestamp")
        conn.execute(events_table.insert(), _events(3).astype(object).to_dict("records"))
    assert set(sa.inspect(old).get_table_names()) == {"events", "items", "users"}
    old.dispose()
    open_store(store_url).close()

    store = open_store(store_url)  # opening again changes nothing
    inspector = sa.inspect(store.engine)
    assert "impressions" in inspector.get_table_names()
    assert "ix_events_timestamp" in {ix["name"] for ix in inspector.get_indexes("events")}
    assert store.events_since(1.0)["item_id"].tolist() == ["i1", "i2"]
    row = {"recommendation_id": "r1", "position": 1, "item_id": "i1", "user_id": "u1", "created_at": 5.0,
           "model": "popular", "version": "v1", "policy": "ranked", "source": "fallback"}
    assert store.log_impressions([row]) == 1
    assert store.impressions()["item_id"].tolist() == ["i1"]
    store.close()
