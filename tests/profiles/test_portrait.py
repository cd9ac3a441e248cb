"""Portraits: known answers on hand-made events through a real Engine and SQLite store, kept
current batch by batch exactly as a rebuild from the log computes them."""

import math

import pandas as pd
import pytest

from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.errors import UnknownId
from shelfwise.profiles import NoConsent

DAY = 86400.0
T0 = pd.Timestamp("2026-03-02 10:00", tz="UTC").timestamp()  # a Monday
ITEMS = [
    {"item_id": "A1", "category": ["Home", "Kitchen"], "brand": "Acme", "price": 10.0},
    {"item_id": "A2", "category": ["Home", "Kitchen"], "brand": "Acme", "price": 30.0},
    {"item_id": "B1", "category": ["Toys", "Games"], "brand": "Bolt", "price": 8.0},
    {"item_id": "B2", "category": ["Toys", "Games"], "brand": "Bolt", "price": 12.0},
]
U1 = [("A2", "view", T0 - 600), ("A2", "view", T0 - 300), ("A1", "purchase", T0),
      ("B1", "view", T0 + DAY + 10 * 3600), ("B2", "cart", T0 + DAY + 10 * 3600 + 60)]
# u2 moves from games to kitchen twice: after games, kitchen comes next 2 times in 3
U2 = [("B1", "view", T0 + 30 * DAY), ("A1", "view", T0 + 30 * DAY + 60), ("B2", "view", T0 + 30 * DAY + 120),
      ("A2", "view", T0 + 40 * DAY)]


def events(user, rows):
    return pd.DataFrame([{"user_id": user, "item_id": i, "event_type": k, "timestamp": t} for i, k, t in rows])


def shop(tmp_path, one_at_a_time: bool) -> Engine:
    eng = Engine(Settings(home=tmp_path, profiles={"affinity_half_life_days": 0}))
    eng.upsert_items(pd.DataFrame(ITEMS))
    eng.upsert_users(pd.DataFrame([{"user_id": "u3", "consent": False}]))
    frame = pd.concat([events("u1", U1), events("u2", U2), events("u3", U1)], ignore_index=True)
    if one_at_a_time:
        for k in range(len(frame)):
            eng.ingest(frame.iloc[k:k + 1])
    else:
        eng.ingest(frame)
    return eng


@pytest.fixture
def engine(tmp_path):
    eng = shop(tmp_path, one_at_a_time=False)
    yield eng
    eng.close()


def test_known_answers(engine):
    p = engine.profile("u1")
    assert p["as_of"] == T0 + 40 * DAY  # the newest event in the store
    # behaviour weights: kitchen 1 + 1 + 5 (two views, a purchase), games 1 + 3 (a view, a cart)
    assert p["categories"] == [{"name": "Home > Kitchen", "affinity": round(7 / 11, 4)},
                               {"name": "Toys > Games", "affinity": round(4 / 11, 4)}]
    assert p["brands"][0] == {"name": "Acme", "affinity": round(7 / 11, 4)}
    # bought A1 at half its category's median (20); viewed at 1.5, 1.5, 0.8 of theirs
    assert p["price_index"] == 0.5
    assert p["price_sensitivity"] == round(1 - 0.5 / (3.8 / 3), 4)
    assert p["rfm"] == {"recency_days": 40.0, "frequency": 1, "monetary": 10.0}
    assert p["stage"] == "lapsing"  # last seen 38.6 days before: past active_days (30), within 90
    assert p["activity"]["events"] == 5
    expected = sum(2 ** (-(T0 + 40 * DAY - t) / (30 * DAY)) for _, _, t in U1)
    assert math.isclose(p["activity"]["score"], expected, abs_tol=1e-4)
    assert p["activity"]["level"] == "medium"  # 2.03: between activity_low 2 and activity_high 10
    assert p["preferred_hours"] == [9, 20, 10] and p["preferred_days"] == ["Monday", "Tuesday"]
    # price bins by weight: [8, 11.3) 6 (A1 bought, B1 viewed), [11.3, 16) 3, [22.6, 32) 2
    assert 8 <= p["price_band"]["low"] < 11.32 and 11.31 <= p["price_band"]["high"] < 16
    # last in games, but after games the shop goes to kitchen 2 times in 3 and u1 prefers it
    assert p["next_category"] == "Home > Kitchen"
    assert engine.profile("u2")["stage"] == "new"  # first seen 10 days before: within new_days (14)


def test_one_event_at_a_time_equals_one_batch_and_a_rebuild(tmp_path, engine):
    single = shop(tmp_path / "single", one_at_a_time=True)
    for user in ("u1", "u2"):
        assert single.profile(user) == engine.profile(user)
    before = {u: engine.profile(u) for u in ("u1", "u2")}
    engine.portraits.rebuild()
    assert {u: engine.profile(u) for u in ("u1", "u2")} == before
    single.close()


def test_a_partly_resent_batch_is_counted_once(engine):
    before = engine.profile("u1")
    late = events("u1", [("B1", "purchase", T0 + 2 * DAY)])
    report = engine.ingest(pd.concat([events("u1", U1[:2]), late], ignore_index=True))
    assert report.added == 1
    after = engine.profile("u1")
    assert after["rfm"]["frequency"] == 2 and after["activity"]["events"] == 6
    assert after["rfm"]["monetary"] == before["rfm"]["monetary"] + 8.0


def test_no_consent_no_portrait_and_forgetting_removes_it(engine):
    with pytest.raises(NoConsent, match="consent"):
        engine.profile("u3")
    assert "u3" not in engine.portraits.features().index
    engine.upsert_users(pd.DataFrame([{"user_id": "u2", "consent": False}]))  # withdrawn: cleared
    with pytest.raises(NoConsent):
        engine.profile("u2")
    engine.forget_user("u1")
    with pytest.raises(UnknownId, match="no events"):
        engine.profile("u1")
    assert engine.store.portrait_aggregates(["u1", "u2"])[0].empty


def test_feature_frame_agrees_with_the_portrait(engine):
    f = engine.portraits.features().loc["u1"]
    p = engine.profile("u1")
    assert f["recency_days"] == p["rfm"]["recency_days"] and f["frequency"] == 1 and f["monetary"] == 10.0
    assert math.isclose(f["top:Home"], 7 / 11) and math.isclose(f["top:Toys"], 4 / 11)
    assert math.isclose(f["evening_share"], 2 / 5) and f["weekend_share"] == 0.0


def test_features_from_the_log_equal_the_stored_ones(engine):
    from shelfwise.profiles import features_from_events

    stored = engine.portraits.features()
    events = engine.store.snapshot()
    past = features_from_events(events[events["user_id"] != "u3"], engine.portraits.catalogue, engine.settings,
                                as_of=T0 + 40 * DAY + 1e-6)
    pd.testing.assert_frame_equal(past.sort_index(), stored.sort_index(), atol=1e-6)


def test_many_departments_are_pooled(engine):
    from shelfwise.profiles.portrait import feature_frame

    stats, counts = engine.store.portrait_aggregates(["u1"])
    one = feature_frame(stats, counts, T0 + 40 * DAY, engine.settings.profiles, max_departments=1)
    assert [c for c in one.columns if c.startswith("top:")] == ["top:(other)"] and one.loc["u1", "top:(other)"] == 1
