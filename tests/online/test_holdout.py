"""The hold-out check before a training run's models serve, through ``shelfwise train`` on a
real SQLite store with the small synthetic shop: a sane run activates, a deliberately bad
parameter set (item-kNN with one neighbour, as a bad tuning result would bring) is kept but
refused, and the verdict is in run.json."""

import json

import pandas as pd
import pytest

from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.online.holdout import holdout_split
from tests.api.conftest import cli


def test_the_holdout_is_each_recent_shoppers_last_new_item():
    day = 86400.0
    events = pd.DataFrame([
        ("a", "x", 0 * day), ("a", "y", 9 * day), ("a", "x", 10 * day),  # last new item: y at day 9
        ("b", "x", 1 * day), ("b", "z", 2 * day),  # last new item at day 2: outside a 7-day window
        ("c", "y", 5 * day), ("c", "z", 8 * day),
        ("d", "z", 9.5 * day),  # one item only: nothing to learn from, not held out
    ], columns=["user_id", "item_id", "timestamp"]).assign(event_type="view")
    train, test = holdout_split(events, window_days=7, max_users=10)
    assert sorted(zip(test["user_id"], test["item_id"], strict=True)) == [("a", "y"), ("c", "z")]
    assert len(train) + len(test) == len(events)
    _, newest = holdout_split(events, window_days=7, max_users=1)
    assert list(newest["user_id"]) == ["a"]  # the most recent shopper first


@pytest.fixture
def home(tmp_path, small_shop):
    home = tmp_path / "home"
    engine = Engine(Settings(home=home))
    engine.store.upsert_items(small_shop.items)
    engine.ingest(small_shop.events)
    engine.close()
    # the synthetic shop spans 180 days: hold out every shopper's last new item
    (home / "shelfwise.toml").write_text("[check]\nwindow_days = 400\n")
    return home


def test_a_bad_parameter_set_is_refused_and_a_sane_one_serves(home):
    where = ["--home", str(home)]
    first = cli("train", "-m", "itemknn", *where)
    assert "itemknn: serving: nothing of this name serves yet" in first
    v1 = Engine(Settings(home=home)).versions.active()["itemknn"]

    (home / "tuned").mkdir()
    (home / "tuned" / "itemknn.json").write_text(json.dumps({"params": {"k": 1}}))
    refused = cli("train", "-m", "itemknn", *where)
    assert "itemknn: NOT activated: ndcg@10" in refused and "the active version keeps serving" in refused
    engine = Engine(Settings(home=home))
    v2 = engine.versions.list_versions()[-1]
    assert engine.versions.active() == {"itemknn": v1, "popular": v2}  # popular passed, itemknn did not
    verdict = engine.versions.run(v2)["check"]["models"]["itemknn"]
    assert verdict["passed"] is False and verdict["ndcg@10"] < 0.98 * verdict["active_ndcg@10"]
    assert verdict["active_version"] == v1 and engine.versions.run(v2)["check"]["holdout_users"] > 300

    (home / "tuned" / "itemknn.json").unlink()
    sane = cli("train", "-m", "itemknn", *where)
    assert "itemknn: serving: ndcg@10" in sane
    engine = Engine(Settings(home=home))
    v3 = engine.versions.list_versions()[-1]
    assert engine.versions.active()["itemknn"] == v3
    # same parameters as the active ones on the same events: the same score, scored once
    check = engine.versions.run(v3)["check"]["models"]["itemknn"]
    assert check["ndcg@10"] == check["active_ndcg@10"] == verdict["active_ndcg@10"]


def test_without_a_recent_holdout_the_models_serve_unchecked(home):
    (home / "shelfwise.toml").write_text("[check]\nwindow_days = 0.001\n")
    out = cli("train", "-m", "itemknn", "--home", str(home))
    assert "fewer than check.min_users (10): activated unchecked" in out
    assert set(Engine(Settings(home=home)).versions.active()) == {"itemknn", "popular"}
