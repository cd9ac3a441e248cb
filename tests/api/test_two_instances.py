"""Two server processes on different ports sharing one PostgreSQL store and one home: an event
accepted by one is in the other's next answer, and a version activated on one serves on both."""


import pytest

from tests.api.conftest import cli, start_server


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_an_event_and_an_activation_reach_the_other_instance(tmp_path, store_url, small_shop):
    home = tmp_path / "home"
    a = start_server(home, store_url)
    b = start_server(home, store_url)
    try:
        rows = small_shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_dict("records")
        with a.client("write") as c:
            assert c.post("/events", json={"events": rows[:10_000]}).status_code == 200
        where = ["--home", str(home), "--store-url", store_url]
        cli("train", "-m", "itemknn", *where)
        cli("train", "-m", "itemknn", *where)
        item = rows[0]["item_id"]
        with a.client("admin") as ca, b.client("admin") as cb:
            ca.post("/events", json={"user_id": "walk-in", "item_id": item, "event_type": "cart"})
            on_b = cb.get("/users/walk-in/recommendations", params={"n": 5}).json()
            assert on_b["fallback"] is None  # B saw A's event in its very next answer
            assert [i["item_id"] for i in on_b["items"]] == \
                [i["item_id"] for i in cb.get(f"/items/{item}/similar", params={"n": 5}).json()["items"]]

            older = ca.get("/models/versions").json()[1]["version"]
            assert ca.post(f"/models/{older}/activate").status_code == 200
            assert {m["version"] for m in cb.get("/models").json()} == {older}
    finally:
        for srv in (a, b):
            srv.proc.terminate()
            srv.proc.wait(timeout=10)
