"""An experiment over the real API on the small synthetic shop (``shelfwise serve`` on a free
port): created with an admin key, it assigns shoppers, logs their lists with experiment and
variant, takes clicks and purchases sent with the ``recommendation_id`` and reports exactly
those per variant on GET /experiments/{id}; then an interleaving experiment credits clicks
to the team that placed the item."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from shelfwise.api.keys import KeyStore
from shelfwise.config import Settings
from shelfwise.engine import Engine
from tests.api.conftest import Server, cli, free_port

VARIANTS = [{"name": "control", "options": {"model": "itemknn"}},
            {"name": "diverse", "options": {"model": "itemknn", "diversity": 0.5}}]


@pytest.fixture(scope="module")
def server(tmp_path_factory, small_shop):
    """The shop stored, trained (itemknn, rules) and keyed in this process, then served by
    ``shelfwise serve`` in its own (the API's ingest and training are tested elsewhere)."""
    home = tmp_path_factory.mktemp("exp")
    store = f"sqlite:///{home / 'events.db'}"
    engine = Engine(Settings(home=home, store_url=store))
    engine.store.upsert_items(small_shop.items)
    engine.ingest(small_shop.events)
    engine.train(["itemknn", "rules"])
    keys = {scope: KeyStore(engine.store.engine).create(f"test-{scope}", [scope])[1]
            for scope in ("read", "write", "admin")}
    engine.close()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "shelfwise.cli", "serve", "--port", str(port), "--home", str(home),
                             "--store-url", store], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError(f"server did not start: {proc.stdout.read().decode()}")
    yield Server(url, home, store, keys, proc)
    proc.terminate()
    proc.wait(timeout=10)


def _status(c, eid: str, shoppers: int) -> dict:
    """GET /experiments/{id} once the impression log has written every shopper's list."""
    deadline = time.monotonic() + 20
    while True:
        body = c.get(f"/experiments/{eid}").json()
        seen = body.get("interleaving", {}).get("shoppers") or sum(v["shoppers"] for v in body.get("variants", []))
        if seen >= shoppers or time.monotonic() > deadline:
            return body
        time.sleep(0.3)


def test_ab_experiment_over_the_api(server, small_shop):
    users = [str(u) for u in small_shop.user_ids[:120]]
    with server.client("admin") as admin, server.client("read") as reader, server.client("write") as writer:
        assert reader.post("/experiments", json={"name": "x", "variants": VARIANTS}).status_code == 403
        bad = admin.post("/experiments", json={"name": "x", "variants": [{"name": "a", "options": {"colour": 1}},
                                                                          {"name": "b"}]})
        assert bad.status_code == 422 and "variants[0].options" in bad.json()["detail"]
        made = admin.post("/experiments", json={"name": "diversity 0.5", "variants": VARIANTS, "pre_days": 365})
        assert made.status_code == 201, made.text
        eid = made.json()["experiment_id"]
        assert admin.post("/experiments", json={"name": "two", "variants": VARIANTS}).status_code == 409
        assert [e["experiment_id"] for e in reader.get("/experiments").json()] == [eid]

        lists, start = {}, time.time()
        for u in users:
            body = reader.get(f"/users/{u}/recommendations").json()
            assert body["experiment"] == eid and body["variant"] in ("control", "diverse")
            lists[u] = body
        again = reader.get(f"/users/{users[0]}/recommendations").json()
        assert again["variant"] == lists[users[0]]["variant"]  # deterministic

        events, clicked, bought = [], {"control": 0, "diverse": 0}, {"control": 0, "diverse": 0}
        for k, u in enumerate(users):
            body = lists[u]
            rid, first = body["recommendation_id"], body["items"][0]["item_id"]
            if k % 2 == 0:  # a click-through: a view of the first item, naming the list
                events.append({"user_id": u, "item_id": first, "event_type": "view", "timestamp": start + 1,
                               "context": {"recommendation_id": rid}})
                clicked[body["variant"]] += 1
            if k % 4 == 0:
                events.append({"user_id": u, "item_id": first, "event_type": "purchase", "value": 10.0,
                               "timestamp": start + 2, "context": {"recommendation_id": rid}})
                bought[body["variant"]] += 1
        assert writer.post("/events", json={"events": events}).status_code == 200

        status = _status(reader, eid, len(users))
        assert status["status"] == "running" and status["kind"] == "ab"
        by_name = {v["name"]: v for v in status["variants"]}
        for name in ("control", "diverse"):
            mine = [u for u in users if lists[u]["variant"] == name]
            v = by_name[name]
            assert v["shoppers"] == len(mine)
            assert v["impressions"] == sum(len(lists[u]["items"]) for u in mine)
            assert v["clicks"] == clicked[name]
            assert v["ctr"]["value"] == pytest.approx(clicked[name] / v["impressions"])
            assert v["conversion_rate"]["value"] == pytest.approx(bought[name] / len(mine))
            assert v["revenue_per_shopper"]["value"] == pytest.approx(10.0 * bought[name] / len(mine))
            lo, hi = v["conversion_rate"]["ci"]
            assert lo <= v["conversion_rate"]["value"] <= hi
            assert v["conversion_rate"]["cuped"]["value"] is not None
        comparison = status["comparisons"][0]
        assert comparison["variant"] == "diverse" and comparison["control"] == "control"
        assert set(comparison["conversion_rate"]["sequential"]) == {"ci", "p_value", "significant"}
        assert status["srm"]["observed"] == [by_name["control"]["shoppers"], by_name["diverse"]["shoppers"]]
        assert "variance_reduction" in status["cuped"]

        assert eid in cli("experiments", "list", "--home", str(server.home), "--store-url", server.store_url)
        stopped = admin.post(f"/experiments/{eid}/stop")
        assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
        assert admin.post(f"/experiments/{eid}/stop").status_code == 409
        after = reader.get(f"/users/{users[0]}/recommendations").json()
        assert after["experiment"] is None and after["variant"] is None
        assert reader.get("/experiments/0123abcd").status_code == 404


def test_interleaving_over_the_api_credits_the_team(server, small_shop):
    users = [str(u) for u in small_shop.user_ids[200:260]]
    with server.client("admin") as admin, server.client("read") as reader, server.client("write") as writer:
        for e in reader.get("/experiments").json():
            if e["status"] == "running":
                admin.post(f"/experiments/{e['experiment_id']}/stop")
        made = admin.post("/experiments", json={"name": "knn vs rules", "kind": "interleave", "variants": [
            {"name": "knn", "options": {"model": "itemknn"}}, {"name": "rules", "options": {"model": "rules"}}]})
        assert made.status_code == 201, made.text
        eid = made.json()["experiment_id"]
        events, wins = [], 0
        for u in users:
            body = reader.get(f"/users/{u}/recommendations").json()
            teams = [i["team"] for i in body["items"]]
            assert body["experiment"] == eid and set(teams) <= {"knn", "rules"}
            assert abs(teams.count("knn") - teams.count("rules")) <= 1 or len(set(teams)) == 1
            knn = [i["item_id"] for i in body["items"] if i["team"] == "knn"]
            if knn:  # the shopper clicks the knn team's first item only
                events.append({"user_id": u, "item_id": knn[0], "event_type": "view",
                               "context": {"recommendation_id": body["recommendation_id"]}})
                wins += 1
        assert writer.post("/events", json={"events": events}).status_code == 200
        pref = _status(reader, eid, len(users))["interleaving"]["preference"]
        assert (pref["wins"], pref["losses"], pref["ties"]) == (wins, 0, len(users) - wins)
        assert pref["winner"] == "knn" and pref["p_value"] < 0.001
        admin.post(f"/experiments/{eid}/stop")


def test_a_variant_with_the_exploration_slot_is_not_cached(server, small_shop):
    with server.client("admin") as admin, server.client("read") as reader:
        for e in reader.get("/experiments").json():
            if e["status"] == "running":
                admin.post(f"/experiments/{e['experiment_id']}/stop")
        made = admin.post("/experiments", json={"name": "explore", "variants": [
            {"name": "plain", "share": 0.5, "options": {"model": "itemknn", "explore": False}},
            {"name": "explore", "share": 0.5, "options": {"model": "itemknn", "explore": True}}]})
        eid = made.json()["experiment_id"]
        seen = {}
        for u in (str(u) for u in small_shop.user_ids[300:340]):
            first = reader.get(f"/users/{u}/recommendations").json()
            second = reader.get(f"/users/{u}/recommendations").json()
            seen.setdefault(first["variant"], []).append(first["recommendation_id"] == second["recommendation_id"])
            if first["variant"] == "explore":
                assert first["items"][-1]["source"] == "explore" and first["items"][-1]["propensity"] is not None
        assert all(seen["plain"]) and not any(seen["explore"])  # cached, and drawn afresh each time
        admin.post(f"/experiments/{eid}/stop")
