"""Experiments on the one serving path (in-process Engine, SQLite): an A/B variant's options
shape the list and its log rows, a request that sets an option itself is served as asked,
an explanation is of the variant's list, and an interleaved list is both variants' lists
merged in each one's own order."""

from __future__ import annotations

import pytest

from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.serving import ListRequest


@pytest.fixture(scope="module")
def engine(tmp_path_factory, small_shop):
    home = tmp_path_factory.mktemp("serving")
    e = Engine(Settings(home=home, store_url=f"sqlite:///{home / 'events.db'}"))
    e.store.upsert_items(small_shop.items)
    e.ingest(small_shop.events)
    e.train(["itemknn", "rules"])
    yield e
    e.close()


def test_ab_variant_shapes_the_list_and_its_log(engine, small_shop):
    made = engine.experiments.create("knn or rules", [{"name": "knn", "options": {"model": "itemknn"}},
                                                      {"name": "rules", "options": {"model": "rules"}}])
    eid = made["experiment_id"]
    users = [str(u) for u in small_shop.user_ids[:60]]
    served = {u: engine.recommend(u) for u in users}
    assert {s.variant for s in served.values()} == {"knn", "rules"}
    for u, s in served.items():
        assert s.experiment == eid and s.model == ("itemknn" if s.variant == "knn" else "rules")
        plain = engine.pipeline.plain(u, ListRequest(model=s.model, log=False))
        assert [r.item_id for r in s] == [r.item_id for r in plain]  # the one path, the variant's options
    asked = engine.recommend(users[0], model="itemknn")  # the request sets the model itself
    assert asked.experiment is None and asked.variant is None
    engine.impressions.flush()
    log = engine.store.experiment_impressions(eid)
    assert set(log["recommendation_id"]) == {s.recommendation_id for s in served.values()}
    by_list = log.groupby("recommendation_id")["variant"].first()
    assert all(by_list[s.recommendation_id] == s.variant for s in served.values())

    u = next(u for u, s in served.items() if s.variant == "rules" and len(s) and s[0].source == "ranked")
    words = engine.explain(u, served[u][0].item_id)
    assert any("1st in your list" in w and "rules model" in w for w in words), words
    engine.experiments.stop(eid)
    assert engine.recommend(u).experiment is None


def test_interleaved_list_keeps_each_variants_order(engine, small_shop):
    made = engine.experiments.create("interleave", [{"name": "knn", "options": {"model": "itemknn"}},
                                                    {"name": "rules", "options": {"model": "rules"}}],
                                     kind="interleave")
    eid = made["experiment_id"]
    both = 0
    for u in (str(u) for u in small_shop.user_ids[100:140]):
        s = engine.recommend(u, log=False)
        assert s.experiment == eid and s.policy == "interleaved" and all(r.team in ("knn", "rules") for r in s)
        for team, model in (("knn", "itemknn"), ("rules", "rules")):
            own = [r.item_id for r in engine.pipeline.plain(u, ListRequest(model=model, log=False))]
            picked = [r.item_id for r in s if r.team == team]
            assert picked == sorted(picked, key=own.index)
        teams = [r.team for r in s]
        both += len(set(teams)) == 2
    assert both > 30
    engine.experiments.stop(eid)
