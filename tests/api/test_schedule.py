"""Scheduled retraining: with serve.retrain_every_minutes the server starts training runs in a
separate process on that schedule, and their versions serve without a restart while the
server keeps answering."""

import time

from tests.api.conftest import start_server


def test_the_server_retrains_on_its_schedule(tmp_path, small_shop):
    home = tmp_path / "home"
    srv = start_server(home, f"sqlite:///{home / 'events.db'}",
                       {"SHELFWISE_SERVE__RETRAIN_EVERY_MINUTES": "0.02",  # every 1.2 s
                        "SHELFWISE_MODELS": '["itemknn"]'})
    try:
        rows = small_shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_dict("records")
        with srv.client("admin") as c:
            assert c.post("/events", json={"events": rows[:5000]}).status_code == 200
            deadline = time.monotonic() + 120
            # a run's version is listed once written, and its check once the check has run
            while True:
                versions = c.get("/models/versions").json()
                if sum(v["check"] is not None for v in versions) >= 2:
                    break
                assert time.monotonic() < deadline, "no two scheduled runs within 2 minutes"
                assert c.get("/healthz").status_code == 200  # serving goes on meanwhile
                time.sleep(0.5)
            served = c.get(f"/users/{rows[0]['user_id']}/recommendations", params={"n": 3}).json()
        assert served["fallback"] is None and served["model"] == "itemknn"
        assert {m for v in versions for m in v["models"]} == {"itemknn", "popular"}
        assert list((home / "logs").glob("train-*.log"))
    finally:
        srv.proc.terminate()
        srv.proc.wait(timeout=30)
