"""What an accepted event moves at once, over HTTP against a real server with the default
in-process online state: the popular list, the list cache (hit, invalidated by the shopper's
event and by an activation), anonymous sessions, and the metrics that count it all."""

import pytest

from shelfwise.store import open_store
from tests.api.conftest import cli, start_shop_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory, small_shop):
    server = start_shop_server(tmp_path_factory.mktemp("online"), small_shop)
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


def ids(body: dict) -> list[str]:
    return [i["item_id"] for i in body["items"]]


def test_popular_moves_without_retraining(srv, small_shop):
    with srv.client("admin") as c:
        before = c.get("/recommendations/popular", params={"n": 300}).json()["items"]
        top, tail = before[0], before[-1]
        # popular counts distinct shoppers: enough new shoppers on the tail item lift it to the top
        lift = int(top["score"] - tail["score"]) + 2
        batch = [{"user_id": f"fan-{k}", "item_id": tail["item_id"], "event_type": "view", "timestamp": 1e9 + k}
                 for k in range(lift)]
        assert c.post("/events", json={"events": batch}).json()["added"] == lift
        assert c.post("/events", json={"events": batch}).json()["added"] == 0  # a re-send counts nothing
        for k in range(3):  # single events move it too, and a shopper counts once per item
            c.post("/events", json={"user_id": "fan-0", "item_id": tail["item_id"], "event_type": "cart",
                                    "timestamp": 2e9 + k})
        after = c.get("/recommendations/popular", params={"n": 2}).json()["items"]
    assert after[0]["item_id"] == tail["item_id"] and after[0]["score"] == tail["score"] + lift
    assert after[1]["item_id"] == top["item_id"]


def test_a_cached_list_is_served_until_the_shoppers_own_event(srv, small_shop):
    user = str(small_shop.user_ids[11])
    with srv.client("read") as c:
        first = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
    # an event written to the store behind the service's back does not invalidate the list ...
    store = open_store(srv.store_url)
    store.append_events(_frame(user, first["items"][0]["item_id"], 3e9))
    store.close()
    with srv.client("admin") as c:
        assert ids(c.get(f"/users/{user}/recommendations", params={"n": 5}).json()) == ids(first)
        # ... an event accepted by the service does, at once
        c.post("/events", json={"user_id": user, "item_id": first["items"][1]["item_id"],
                                "event_type": "purchase", "timestamp": 3e9 + 1})
        fresh = ids(c.get(f"/users/{user}/recommendations", params={"n": 5}).json())
        assert first["items"][0]["item_id"] not in fresh and first["items"][1]["item_id"] not in fresh
        assert "shelfwise_list_cache_hits_total 1.0" in c.get("/metrics").text


def test_an_activation_invalidates_every_cached_list(srv, small_shop):
    user = str(small_shop.user_ids[12])
    with srv.client("admin") as c:
        first = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
        store = open_store(srv.store_url)
        store.append_events(_frame(user, first["items"][0]["item_id"], 3e9))
        store.close()
        assert ids(c.get(f"/users/{user}/recommendations", params={"n": 5}).json()) == ids(first)
        cli("train", "-m", "itemknn", "--no-check", "--home", str(srv.home), "--store-url", srv.store_url)
        assert first["items"][0]["item_id"] not in ids(
            c.get(f"/users/{user}/recommendations", params={"n": 5}).json())


def test_an_item_put_out_of_stock_leaves_every_cached_list_at_once(srv, small_shop):
    user = str(small_shop.user_ids[13])
    with srv.client("admin") as c:
        first = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
        gone = first["items"][0]["item_id"]
        assert ids(c.get(f"/users/{user}/recommendations", params={"n": 5}).json()) == ids(first)  # cached
        assert c.put(f"/items/{gone}", json={"in_stock": False}).status_code == 200
        after = ids(c.get(f"/users/{user}/recommendations", params={"n": 5}).json())
        assert gone not in after and after[:4] == ids(first)[1:]
        assert gone not in ids(c.get("/recommendations/popular", params={"n": 50}).json())
        assert c.put(f"/items/{gone}", json={"in_stock": True}).status_code == 200
        assert ids(c.get(f"/users/{user}/recommendations", params={"n": 5}).json()) == ids(first)


def test_an_anonymous_session_is_scored_like_a_known_shopper(srv, small_shop):
    item = str(small_shop.item_ids[5])
    with srv.client("read") as c:
        res = c.post("/session/recommendations", json={"events": [{"item_id": item}], "n": 5})
        similar = c.get(f"/items/{item}/similar", params={"n": 5}).json()
        unknown = c.post("/session/recommendations", json={"events": [{"item_id": "never-sold"}], "n": 3})
        popular = c.get("/recommendations/popular", params={"n": 3}).json()
        too_long = c.post("/session/recommendations", json={"events": [{"item_id": item}] * 201})
        bad_type = c.post("/session/recommendations", json={"events": [{"item_id": item, "event_type": "x"}]})
    assert res.status_code == 200 and res.json()["fallback"] is None
    assert ids(res.json()) == ids(similar)  # one view: its neighbours, as for a first-time shopper
    assert unknown.json()["fallback"] == "unknown shopper" and ids(unknown.json()) == ids(popular)
    assert too_long.status_code == 422 and "events" in too_long.text
    assert bad_type.status_code == 422 and "event_type" in bad_type.text


def test_metrics_name_the_serving_versions_training_time_and_fallbacks(srv):
    with srv.client("admin") as c:
        c.get("/users/nobody-at-all/recommendations")
        models = {m["name"]: m for m in c.get("/models").json()}
        text = c.get("/metrics").text
    lines = text.splitlines()
    for name, model in models.items():
        assert f'shelfwise_model_version{{model="{name}",version="{model["version"]}"}} 1.0' in lines
        assert any(x.startswith(f'shelfwise_model_fit_seconds{{model="{name}"}} ') for x in lines)
    assert any(x.startswith('shelfwise_fallbacks_total{reason="unknown shopper"}') for x in lines)
    assert any(x.startswith("shelfwise_events_ingested_total ") and float(x.split()[-1]) > 10_000
               for x in lines)
    assert any(x.startswith('shelfwise_http_request_seconds_count{method="GET",'
                            'route="/users/{user_id}/recommendations"}') for x in lines)


def _frame(user: str, item: str, ts: float):
    import pandas as pd

    from shelfwise.data.validation import validate_events

    raw = pd.DataFrame([{"user_id": user, "item_id": item, "event_type": "purchase", "timestamp": ts}])
    return validate_events(raw)[0]
