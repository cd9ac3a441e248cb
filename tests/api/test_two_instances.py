"""Two server processes on different ports sharing one PostgreSQL store and one home: an event
accepted by one is in the other's next answer, and a version activated on one serves on both.
Without a shared online state the list cache is off; with Redis as the shared state (and the
list cache on), instance A runs two workers: a list B has cached is invalidated by A's event,
and popular moves on both."""

import time

import pytest

from tests.api.conftest import cli, start_server


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("online", ["in process", "redis"])
def test_an_event_and_an_activation_reach_the_other_instance(tmp_path, store_url, small_shop, online):
    home = tmp_path / "home"
    env = {"SHELFWISE_ONLINE__CACHE_SECONDS": "0"}  # without a shared state, lists must not be cached
    if online == "redis":
        env = {"SHELFWISE_ONLINE__URL": "redis://127.0.0.1:6379/0",
               "SHELFWISE_ONLINE__NAMESPACE": f"two-{tmp_path.name}"}
    a = start_server(home, store_url, env, *(["--workers", "2"] if online == "redis" else []))
    b = start_server(home, store_url, env)
    try:
        rows = small_shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_dict("records")
        with a.client("write") as c:
            assert c.post("/events", json={"events": rows[:10_000]}).status_code == 200
        where = ["--home", str(home), "--store-url", store_url]
        cli("train", "-m", "itemknn", *where)
        cli("train", "-m", "itemknn", *where)
        item = rows[0]["item_id"]
        with a.client("admin") as ca, b.client("admin") as cb:
            assert cb.get("/users/walk-in/recommendations", params={"n": 5}).json()["fallback"] == "unknown shopper"
            sent = time.perf_counter()
            ca.post("/events", json={"user_id": "walk-in", "item_id": item, "event_type": "cart"})
            on_b = cb.get("/users/walk-in/recommendations", params={"n": 5}).json()
            fresh_ms = (time.perf_counter() - sent) * 1000
            assert on_b["fallback"] is None  # B saw A's event in its very next answer
            assert fresh_ms < 1000  # one request each way; the bound is 100 ms on an idle machine
            assert [i["item_id"] for i in on_b["items"]] == \
                [i["item_id"] for i in cb.get(f"/items/{item}/similar", params={"n": 5}).json()["items"]]
            if online == "redis":  # popular counters are shared: B's list moves with A's events
                tail = cb.get("/recommendations/popular", params={"n": 1000}).json()["items"][-1]
                top = cb.get("/recommendations/popular", params={"n": 1}).json()["items"][0]
                lift = int(top["score"] - tail["score"]) + 1
                ca.post("/events", json={"events": [{"user_id": f"fan{k}", "item_id": tail["item_id"],
                                                     "event_type": "view"} for k in range(lift)]})
                assert cb.get("/recommendations/popular", params={"n": 1}).json()["items"][0]["item_id"] \
                    == tail["item_id"]

            if online == "redis":  # a stock change on A binds B's next list, cached or not
                listed = cb.get("/users/walk-in/recommendations", params={"n": 5}).json()["items"]
                shown = [i["item_id"] for i in listed]
                assert ca.put(f"/items/{shown[0]}", json={"in_stock": False}).status_code == 200
                assert shown[0] not in [i["item_id"] for i in
                                        cb.get("/users/walk-in/recommendations", params={"n": 5}).json()["items"]]

            older = ca.get("/models/versions").json()[1]["version"]
            assert ca.post(f"/models/{older}/activate").status_code == 200
            assert {m["version"] for m in cb.get("/models").json()} == {older}
    finally:
        for srv in (a, b):
            srv.proc.terminate()
            srv.proc.wait(timeout=10)
        if online == "redis":  # leave the shared Redis as it was
            import redis

            client = redis.Redis.from_url(env["SHELFWISE_ONLINE__URL"])
            keys = list(client.scan_iter(f"{env['SHELFWISE_ONLINE__NAMESPACE']}:*"))
            if keys:
                client.delete(*keys)
            client.close()


def test_several_workers_need_a_shared_online_state(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "shelfwise.cli", "serve", "--workers", "2",
                           "--home", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--workers 2 needs a shared online state: set online.url" in done.stderr
