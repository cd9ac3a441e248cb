"""Differentially private public counts (``privacy.dp``), with known answers: the noise scale is
sensitivity / epsilon as OpenDP reports it, releases average to the exact counts, the stated
bound holds with the stated probability, the accountant refuses past the budget (SQLite and
PostgreSQL), a spent budget serves the last noisy release, and the served popular list is it."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from shelfwise.config import Settings
from shelfwise.data.validation import validate_events
from shelfwise.engine import Engine
from shelfwise.privacy.dp import PublicCounts, accuracy, bound_contributions, count_measurement, noisy_counts
from shelfwise.privacy.ledger import Ledger
from shelfwise.store import open_store
from tests.store.conftest import store_url  # noqa: F401 - the sqlite / postgresql fixture

DAY = 86400.0


def _events(pairs: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=["user_id", "item_id", "timestamp"])


def test_contribution_bounding_keeps_each_shoppers_most_recent_distinct_items():
    ev = _events([("u1", "a", 1), ("u1", "a", 9), ("u1", "b", 2), ("u1", "c", 3), ("u1", "d", 4),
                  ("u2", "a", 5), ("u2", "a", 6)])
    kept = bound_contributions(ev, max_items=2)
    # u1 touched a (last at 9), d (4), c (3), b (2): keeps a and d; u2 counts once for a
    assert sorted(kept.tolist()) == ["a", "a", "d"]
    with pytest.raises(ValueError, match="max_items"):
        bound_contributions(ev, 0)


def test_noise_scale_is_sensitivity_over_epsilon_as_opendp_reports():
    meas, scale = count_measurement(["a", "b", "c"], max_items=4, epsilon=0.5)
    assert scale == 8.0  # L1 sensitivity 4 (one shopper, four records) / epsilon 0.5
    assert meas.map(4) == pytest.approx(0.5)  # OpenDP's own privacy map: exactly the budgeted epsilon
    assert meas.map(1) == pytest.approx(0.125)


def test_releases_average_to_the_exact_counts_and_stay_within_the_stated_bound():
    exact = np.array([40, 25, 60, 33])
    items = ["a", "b", "c", "d"]
    records = pd.Series(np.repeat(items, exact))
    draws = np.stack([noisy_counts(records, items, max_items=2, epsilon=1.0, alpha=0.05)[0]
                      for _ in range(1500)])  # scale 2: far from 0, so clamping at 0 never bites
    sd = np.sqrt(2) * 2.0  # the Laplace's standard deviation at scale 2
    assert np.all(np.abs(draws.mean(axis=0) - exact) < 4 * sd / np.sqrt(len(draws)))
    # the stated bound: |noisy - exact| < accuracy with probability 1 - alpha, per item
    bound = accuracy(2.0, 0.05)
    miss = float(np.mean(np.abs(draws - exact) >= bound))
    n = draws.size
    assert miss <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / n)
    assert miss >= 0.05 / 3  # and the bound is not vacuous


def test_the_accountant_refuses_past_the_budget(store_url):  # noqa: F811
    store = open_store(store_url)
    try:
        ledger = Ledger(store.engine)
        assert [ledger.spend("2026-12-07", 0.3, budget=1.0) for _ in range(4)] == [True, True, True, False]
        assert ledger.spent("2026-12-07") == pytest.approx(0.9)
        assert ledger.spend("2026-12-07", 0.1, budget=1.0)  # exactly to the budget (0.9 + 0.1 in floats)
        assert not ledger.spend("2026-12-07", 0.01, budget=1.0)
        assert ledger.spend("2026-12-08", 0.3, budget=1.0)  # a new period has its own budget
    finally:
        store.close()


def _shop_store(tmp_path, now: float):
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    rows = [(f"u{u}", f"i{i}", "view", now - 3600.0 * (1 + u % 5)) for u in range(60) for i in range(u % 7 + 1)]
    store.append_events(validate_events(pd.DataFrame(rows, columns=["user_id", "item_id", "event_type",
                                                                    "timestamp"]))[0])
    return store


def test_a_spent_budget_serves_the_last_noisy_release_never_an_exact_one(tmp_path):
    now = [1_796_000_000.0]  # 2026-11-30 UTC, mid-day
    store = _shop_store(tmp_path, now[0])
    settings = Settings(home=tmp_path, privacy={"dp_epsilon_per_day": 0.5, "dp_epsilon_per_release": 0.25,
                                                 "dp_max_items_per_shopper": 3, "dp_refresh_seconds": 600})
    items = [f"i{i}" for i in range(9)]
    public = PublicCounts(store, settings, catalogue=lambda: items, clock=lambda: now[0])
    first = public.release("popular")
    assert first.epsilon == 0.25 and first.scale == 12.0 and public.ledger.spent(first.period) == 0.25
    assert first.accuracy == pytest.approx(accuracy(12.0, 0.05))
    now[0] += 60
    assert public.release("popular") is first  # within the refresh: served again, nothing spent
    other = PublicCounts(store, settings, catalogue=lambda: items, clock=lambda: now[0])
    assert other.release("popular").released_at == first.released_at  # another process reads the same release
    now[0] += 600
    second = public.release("popular")  # refreshed: the budget's second half
    assert second.released_at == now[0] and public.ledger.spent(second.period) == pytest.approx(0.5)
    now[0] += 600
    third = public.release("popular")  # budget spent: the last noisy answer, not a fresh one
    assert third.released_at == second.released_at and np.array_equal(third.counts, second.counts)
    assert public.ledger.spent(third.period) == pytest.approx(0.5)
    exact = bound_contributions(store.events_since(0), 3).value_counts().reindex(items, fill_value=0).to_numpy()
    assert not np.array_equal(third.counts, exact)  # noise of scale 12 on nine counts
    now[0] += DAY  # the next UTC day has a fresh budget
    assert public.release("popular").released_at == now[0]
    store.close()


def test_the_popular_list_shows_the_released_counts(tmp_path, small_shop):
    events = small_shop.events.copy()
    events["timestamp"] += time.time() - 3600 - events["timestamp"].max()  # the last month is now
    engine = Engine(Settings(home=tmp_path, impressions={"enabled": False}, privacy={"dp_enabled": True}))
    engine.ingest(events)
    engine.train(["popular"])
    served = engine.popular(10)
    release = engine.pipeline.published.public.release("popular")
    counts = release.for_items([r.item_id for r in served])
    assert [r.score for r in served] == counts.tolist()  # the scores shown are the noisy counts
    top = np.sort(release.counts)[::-1][:10]
    assert sorted(counts.tolist(), reverse=True) == top.tolist()  # the released top 10, in order
    # two releases paid for: the popular list's counts and the weekly counts its reasons quote
    week = engine.pipeline.published.public.release("week")
    assert engine.pipeline.published.public.ledger.spent(release.period) == 0.5
    published = engine.privacy()["published"]
    assert published["dp_enabled"] and published["spent"] == 0.5 and published["epsilon_per_day"] == 1.0
    assert published["releases"] == {"popular": release.released_at, "week": week.released_at}
    for r in served:  # a trend is named only with its released count, and only above the stated error
        n = int(week.for_items([r.item_id])[0])
        assert ("this week" in r.reason) == (n >= week.accuracy)
        assert "this week" not in r.reason or f"({n} shoppers)" in r.reason
    engine.close()


def test_the_popular_route_serves_the_release_every_process_shares(tmp_path, small_shop):
    from tests.api.conftest import cli, start_server

    events = small_shop.events.copy()
    events["timestamp"] += time.time() - 3600 - events["timestamp"].max()
    home = tmp_path / "home"
    srv = start_server(home, f"sqlite:///{home / 'events.db'}", {"SHELFWISE_PRIVACY__DP_ENABLED": "true"})
    try:
        rows = events[["user_id", "item_id", "event_type", "timestamp"]].to_dict("records")
        with srv.client("write") as c:
            for start in range(0, len(rows), 5000):
                assert c.post("/events", json={"events": rows[start:start + 5000]}).status_code == 200
        cli("train", "-m", "popular", "--home", str(home), "--store-url", srv.store_url)
        with srv.client("read") as c:
            first = c.get("/recommendations/popular", params={"n": 10})
            again = c.get("/recommendations/popular", params={"n": 10})
        assert first.status_code == 200 and again.json()["items"] == first.json()["items"]
        store = open_store(srv.store_url)
        ledger = Ledger(store.engine)
        stored = ledger.last("popular")  # what the server released, as another process reads it
        shown = {r["item_id"]: r["score"] for r in first.json()["items"]}
        assert shown == {i: float(stored.counts[i]) for i in shown}
        best = sorted(stored.counts.values(), reverse=True)[:10]
        assert sorted(shown.values(), reverse=True) == [float(v) for v in best]
        assert ledger.spent(stored.period) == 0.5  # the popular counts and the weekly ones, once each
        store.close()
    finally:
        srv.proc.terminate()
        srv.proc.wait(timeout=10)
