"""Raw-event retention (``privacy.retention``) on SQLite and PostgreSQL, with known answers:
old events deleted and counted per item, shoppers without consent reduced to item counts or
dropped, portraits kept; PostgreSQL vacuums what a forget or retention deleted."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from shelfwise.cli.main import app
from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.privacy.retention import DAY, apply_retention
from tests.store.conftest import store_url  # noqa: F401 - the sqlite / postgresql fixture

NOW = 1_700_000_000.0
EVENTS = [  # (user, item, behaviour, days ago)
    ("u1", "i1", "view", 40), ("u1", "i2", "purchase", 40), ("u1", "i1", "view", 1),
    ("u2", "i1", "view", 1), ("u2", "i3", "cart", 2), ("u2", "i1", "view", 50),
    ("u3", "i2", "view", 1),
]


def shop(home, url, **privacy) -> Engine:
    engine = Engine(Settings(home=home, store_url=url, privacy=privacy))
    engine.store.upsert_users([{"user_id": "u1", "consent": True}, {"user_id": "u2", "consent": False}])
    engine.ingest([{"user_id": u, "item_id": i, "event_type": b, "timestamp": NOW - d * DAY}
                   for u, i, b, d in EVENTS])
    return engine


def left(engine) -> list[tuple]:
    snap = engine.store.snapshot()
    return sorted(zip(snap.user_id, snap.item_id, snap.event_type, ((NOW - snap.timestamp) / DAY).round(), strict=True))


def counts(engine) -> list[tuple]:
    return [tuple(r) for r in engine.store.item_counts().itertuples(index=False)]


def test_aggregate_and_expire(tmp_path, store_url):  # noqa: F811
    engine = shop(tmp_path, store_url, event_retention_days=30, no_consent_events="aggregate")
    before = engine.store.portrait_aggregates(["u1"])[0].set_index("user_id")
    done = apply_retention(engine.store, engine.settings.privacy, now=NOW)
    assert (done.expired, done.shoppers, done.reduced) == (2, 1, 3)
    assert left(engine) == [("u1", "i1", "view", 1.0), ("u3", "i2", "view", 1.0)]
    # u2's three events and u1's two old ones, per item and behaviour; no shopper id
    assert counts(engine) == [("i1", "view", 3), ("i2", "purchase", 1), ("i3", "cart", 1)]
    stats, _ = engine.store.portrait_aggregates(["u1", "u2"])
    assert stats["user_id"].tolist() == ["u1"]  # u2's portrait went with their events
    assert stats.set_index("user_id").loc["u1", "n_events"] == before.loc["u1", "n_events"] == 3
    assert stats.set_index("user_id").loc["u1", "n_purchases"] == 1  # the expired purchase still counts
    # a second run finds nothing more and counts nothing twice
    assert apply_retention(engine.store, engine.settings.privacy, now=NOW).expired == 0
    assert counts(engine) == [("i1", "view", 3), ("i2", "purchase", 1), ("i3", "cart", 1)]
    engine.close()


def test_drop_and_a_default_without_consent(tmp_path, store_url):  # noqa: F811
    engine = shop(tmp_path, store_url, no_consent_events="drop", consent_default=False)
    done = apply_retention(engine.store, engine.settings.privacy, now=NOW)
    # u3 has no profile: without consent by default; retention by age is off (0 days)
    assert (done.expired, done.shoppers, done.reduced) == (0, 2, 4)
    assert left(engine) == [("u1", "i1", "view", 1.0), ("u1", "i1", "view", 40.0), ("u1", "i2", "purchase", 40.0)]
    assert counts(engine) == []  # dropped, not counted
    engine.close()


def test_keep_keeps_everything(tmp_path):
    engine = shop(tmp_path, f"sqlite:///{tmp_path / 'e.db'}")
    assert apply_retention(engine.store, engine.settings.privacy, now=NOW).expired == 0
    assert len(left(engine)) == len(EVENTS) and counts(engine) == []


def test_cli_retention(tmp_path):
    shop(tmp_path, "").close()
    res = CliRunner().invoke(app, ["retention", "--home", str(tmp_path)],
                             env={"SHELFWISE_PRIVACY__NO_CONSENT_EVENTS": "aggregate",
                                  "SHELFWISE_PRIVACY__EVENT_RETENTION_DAYS": "30"})
    assert res.exit_code == 0, res.output
    # now is today: every event of 2023 is older than 30 days
    assert "deleted 4 event(s) older than 30 day(s) and 3 event(s) of 1 shopper(s) without consent" in res.output
    res = CliRunner().invoke(app, ["retention", "--home", str(tmp_path)],
                             env={"SHELFWISE_PRIVACY__NO_CONSENT_EVENTS": "sometimes"})
    assert res.exit_code == 2 and "privacy.no_consent_events" in res.output


def last_vacuum(engine, table: str):
    with engine.store.engine.connect() as conn:
        conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        return conn.execute(sa.text("SELECT last_vacuum, n_dead_tup FROM pg_stat_user_tables "
                                    "WHERE relname = :t AND schemaname = current_schema()"), {"t": table}).first()


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_postgres_vacuums_after_forget_and_retention(tmp_path, store_url):  # noqa: F811
    engine = shop(tmp_path, store_url, event_retention_days=30)
    assert last_vacuum(engine, "events")[0] is None
    engine.forget_user("u2")
    deadline = time.monotonic() + 10  # statistics reach the view within a second or so
    while (row := last_vacuum(engine, "events"))[0] is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert row[0] is not None and row[1] == 0  # vacuumed: no dead tuple left
    assert last_vacuum(engine, "users")[0] is not None
    first = row[0]
    assert apply_retention(engine.store, engine.settings.privacy, now=NOW).expired == 2
    while (row := last_vacuum(engine, "events"))[0] == first and time.monotonic() < deadline + 10:
        time.sleep(0.2)
    assert row[0] > first and row[1] == 0
    engine.close()
