"""Precomputed lists (``online.precompute_seconds``) against a real server: every trained
shopper's plain list is in the cache before they ask, it is what the route computes, and
their own event still changes it at once."""

import time

import pytest

from tests.api.conftest import start_shop_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory, small_shop):
    server = start_shop_server(tmp_path_factory.mktemp("precompute"), small_shop,
                               {"SHELFWISE_ONLINE__PRECOMPUTE_SECONDS": "600"})
    yield server
    server.proc.terminate()
    server.proc.wait(timeout=10)


def hits(c) -> float:
    line = next(x for x in c.get("/metrics").text.splitlines() if x.startswith("shelfwise_list_cache_hits_total"))
    return float(line.split()[-1])


def test_every_trained_shopper_is_answered_from_the_cache_with_the_routes_own_list(srv, small_shop):
    with srv.client("admin") as c:
        deadline = time.monotonic() + 120  # the walker starts once the trained model is there
        while (status := c.get("/healthz").json()["precomputed"])["passes"] < 1:
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
        users = [str(u) for u in small_shop.events["user_id"].drop_duplicates()]
        assert status["of"] == len(users)
        before = hits(c)
        for user in users[:20]:
            served = c.get(f"/users/{user}/recommendations").json()
            # an option set to the shop's own value bypasses the cache: computed now
            computed = c.get(f"/users/{user}/recommendations", params={"diversity": 1.0}).json()
            # the same list, each answer under its own recommendation id
            assert served.pop("recommendation_id") != computed.pop("recommendation_id")
            assert served == computed
        assert hits(c) - before == 20  # every plain request was a hit, none was scored

        user = users[0]
        first = c.get(f"/users/{user}/recommendations").json()["items"][0]["item_id"]
        c.post("/events", json={"user_id": user, "item_id": first, "event_type": "purchase"})
        assert first not in [i["item_id"] for i in c.get(f"/users/{user}/recommendations").json()["items"]]
