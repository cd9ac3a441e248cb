"""Experiments in the store (SQLite and PostgreSQL): a database made before experiments opens
and gains the impression log's experiment columns; records, impressions and events round-trip;
and the statistics of a small hand-made log come out as counted by hand."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa

from shelfwise.experiments.service import ExperimentConflict, Experiments
from shelfwise.store import open_store
from tests.store.conftest import store_url  # noqa: F401 - the sqlite / postgresql fixture

T0, DAY = 1.0e7, 86400.0
OLD_IMPRESSIONS = ("CREATE TABLE impressions (recommendation_id VARCHAR(64) NOT NULL, position INTEGER NOT NULL, "
                   "item_id VARCHAR(255) NOT NULL, user_id VARCHAR(255) NOT NULL, created_at FLOAT NOT NULL, "
                   "model VARCHAR(64) NOT NULL, version VARCHAR(64) NOT NULL, policy VARCHAR(64) NOT NULL, "
                   "source VARCHAR(16) NOT NULL, propensity FLOAT, arm VARCHAR(255), "
                   "PRIMARY KEY (recommendation_id, position))")


def _row(rid, pos, item, user, exp=None, variant=None, at=100.0):
    return {"recommendation_id": rid, "position": pos, "item_id": item, "user_id": user, "created_at": at,
            "model": "itemknn", "version": "v1", "policy": "ranked", "source": "ranked",
            "experiment": exp, "variant": variant}


def test_an_impression_log_made_before_experiments_gains_its_columns(store_url):  # noqa: F811
    old = sa.create_engine(store_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with old.begin() as conn:
        conn.exec_driver_sql(OLD_IMPRESSIONS)
        conn.exec_driver_sql("INSERT INTO impressions VALUES ('r0', 1, 'i1', 'u1', 1.0, 'popular', 'v', "
                             "'ranked', 'fallback', NULL, NULL)")
    old.dispose()
    open_store(store_url).close()
    store = open_store(store_url)  # opening again changes nothing
    try:
        inspector = sa.inspect(store.engine)
        assert {"experiment", "variant"} <= {c["name"] for c in inspector.get_columns("impressions")}
        assert "ix_impressions_experiment" in {ix["name"] for ix in inspector.get_indexes("impressions")}
        store.log_impressions([_row("r1", 1, "i2", "u1", "e1", "a")])
        frame = store.impressions()
        assert frame["experiment"].tolist() == [None, "e1"] and frame["variant"].tolist() == [None, "a"]
        assert store.experiment_impressions("e1")["variant"].tolist() == ["a"]
        with pytest.raises(ValueError, match="variant"):
            store.log_impressions([_row("r2", 1, "i2", "u1", "e1", "x" * 65)])
    finally:
        store.close()


def test_records_events_and_statistics_by_hand(store_url):  # noqa: F811
    store = open_store(store_url)
    try:
        experiments = Experiments(store)
        made = experiments.create("t", [{"name": "a"}, {"name": "b"}], pre_days=10, now=T0)
        eid = made["experiment_id"]
        with pytest.raises(ExperimentConflict):
            experiments.create("t2", [{"name": "a"}, {"name": "b"}])
        assert [e.experiment_id for e in experiments.all()] == [eid] and experiments.running().experiment_id == eid
        # u1, u2 in a; u3, u4 in b; one list of two items each
        rows = []
        for user, variant in (("u1", "a"), ("u2", "a"), ("u3", "b"), ("u4", "b")):
            rows += [_row(f"r{user}", 1, "i1", user, eid, variant, T0 + 1.0),
                     _row(f"r{user}", 2, "i2", user, eid, variant, T0 + 1.0)]
        rows.append(_row("ranon", 1, "i1", "", eid, "a", T0 + 1.0))  # anonymous: not counted
        store.log_impressions(rows)

        def ev(user, item, kind, t, rid=None, value=None):
            return {"event_id": f"{user}{item}{kind}{t}", "user_id": user, "item_id": item, "event_type": kind,
                    "timestamp": t, "session_id": None, "value": value,
                    "context": json.dumps({"recommendation_id": rid}) if rid else None}
        store.append_events(pd.DataFrame([
            ev("u1", "i1", "view", T0 + 2.0, "ru1"), ev("u1", "i1", "purchase", T0 + 3.0, "ru1", 20.0),
            ev("u2", "i9", "view", T0 + 2.0, "ru2"),  # an item the list did not show: no click
            ev("u3", "i2", "view", T0 + 2.0, "ru3"), ev("u3", "i1", "view", T0 + 2.5, "ru3"),
            ev("u4", "i5", "purchase", T0 + 4.0, None, 5.0),  # a purchase not from the list still converts
            ev("u4", "i5", "purchase", T0 - 5 * DAY, None, 7.0),  # before the start: the pre-period
            ev("u2", "i5", "purchase", T0 - 20 * DAY, None, 9.0),  # before the pre-period: not read
        ]))
        assert len(store.events_of(["u1", "u2", "u3", "u4"], T0 - 10 * DAY)) == 7
        status = experiments.status(eid)
        a, b = status["variants"]
        assert (a["shoppers"], a["impressions"], a["clicks"]) == (2, 4, 1)
        assert (b["shoppers"], b["impressions"], b["clicks"]) == (2, 4, 2)
        assert a["conversion_rate"]["value"] == 0.5 and b["conversion_rate"]["value"] == 0.5
        assert a["revenue_per_shopper"]["value"] == 10.0 and b["revenue_per_shopper"]["value"] == 2.5
        assert status["comparisons"][0]["ctr"]["value"] == pytest.approx(2 / 4 - 1 / 4)
        assert status["srm"]["observed"] == [2, 2] and not status["srm"]["flagged"]
        # CUPED: pre-period revenue is 7 for u4 only; theta = cov(y, x) / var(x) over the four
        y, x = pd.Series([20.0, 0.0, 0.0, 5.0]), pd.Series([0.0, 0.0, 0.0, 7.0])
        assert status["cuped"]["theta"]["revenue_per_shopper"] == pytest.approx(y.cov(x) / x.var())

        assert experiments.stop(eid, now=T0 + 1000)["status"] == "stopped"
        with pytest.raises(ExperimentConflict):
            experiments.stop(eid)
        assert experiments.running() is None
        report = store.delete_user("u1")
        assert report.impressions == 2 and len(store.experiment_impressions(eid)) == 7
    finally:
        store.close()
