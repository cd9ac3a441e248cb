"""The whole service path on SQLite and on PostgreSQL: events over HTTP, a training run
started over HTTP, recommendations, a shopper forgotten."""

import time
from pathlib import Path

from shelfwise.config import Settings
from shelfwise.engine import Engine


def train(client, since: dict, timeout: float = 120) -> dict:
    """Start a training run of itemknn over HTTP and wait for it; returns GET /models."""
    started = client.post("/models/train", json={"models": ["itemknn"]})
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + timeout
    while (status := client.get("/models/training").json())["running"]:
        assert time.monotonic() < deadline, "training did not finish"
        time.sleep(0.2)
    assert status["returncode"] == 0, Path(status["log"]).read_text()
    models = {m["name"]: m for m in client.get("/models").json()}
    assert models["itemknn"]["trained_at"] != since.get("itemknn", {}).get("trained_at")
    # the run's hold-out verdict: this shop has too few recent shoppers, so it serves unchecked
    assert status["version"] == models["itemknn"]["version"]
    assert status["check"]["activated"] == ["itemknn", "popular"] and "unchecked" in status["check"]["note"]
    return models


def test_ingest_train_recommend_forget(server, small_shop):
    rows = small_shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_dict("records")
    user = str(small_shop.user_ids[0])
    with server.client("admin") as c:
        assert c.get(f"/users/{user}/recommendations").status_code == 503  # nothing trained yet
        for start in range(0, len(rows), 10_000):
            assert c.post("/events", json={"events": rows[start:start + 10_000]}).status_code == 200
        models = train(c, {})
        assert models["itemknn"]["default"] is True
        served = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
        # the same answer as the Engine gives in-process on the same store and models
        engine = Engine(Settings(home=server.home, store_url=server.store_url))
        assert [i["item_id"] for i in served["items"]] == [r.item_id for r in engine.recommend(user, 5)]
        assert served["fallback"] is None and {i["model"] for i in served["items"]} == {"itemknn"}

        # the shopper buys the top item and looks at two others; after retraining, the list moves
        top = served["items"][0]["item_id"]
        later = max(r["timestamp"] for r in rows) + 60
        new = [{"user_id": user, "item_id": top, "event_type": "purchase", "timestamp": later}]
        assert c.post("/events", json={"events": new}).json()["added"] == 1
        retrained = train(c, models)
        after = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
        assert top not in [i["item_id"] for i in after["items"]]

        # both runs are kept as versions; activating the first is a rollback, seen by any process
        first, second = models["itemknn"]["version"], retrained["itemknn"]["version"]
        versions = c.get("/models/versions").json()
        assert [v["version"] for v in versions] == [second, first]
        assert versions[0]["serving"] == ["itemknn", "popular"] and versions[1]["serving"] == []
        assert c.post(f"/models/{first}/activate").status_code == 200
        assert {m["name"]: m["version"] for m in c.get("/models").json()} == {"itemknn": first, "popular": first}
        assert Engine(Settings(home=server.home, store_url=server.store_url)).versions.active()["itemknn"] == first
        assert c.post("/models/no-such-version/activate").status_code == 404

        gone = c.delete(f"/users/{user}").json()
        assert gone["events_deleted"] == sum(r["user_id"] == user for r in rows) + 1
        assert len(engine.store.user_history(user)) == 0
        forgotten = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
        assert forgotten["fallback"] == "unknown shopper"
        assert {i["model"] for i in forgotten["items"]} == {"popular"}
        engine.close()
