"""Scoped keys and bad input against a real server: 401 / 403 / 4xx, never data, never a 500."""

import re
import socket
import time
from urllib.parse import quote

import pytest

from tests.api.conftest import cli


@pytest.mark.parametrize(("scope", "method", "path", "status"), [
    (None, "GET", "/users/U000001/recommendations", 401),
    ("wrong", "GET", "/users/U000001/recommendations", 401),
    ("read", "POST", "/events", 403),
    ("write", "DELETE", "/users/U000001", 403),
    ("read", "POST", "/models/train", 403),
    ("read", "GET", "/metrics", 403),
    ("write", "GET", "/metrics", 403),
    (None, "GET", "/metrics", 401),
])
def test_keys_and_scopes(shop_server, scope, method, path, status):
    shop_server.keys["wrong"] = "sw_00000000_not-a-key"
    with shop_server.client(scope) as c:
        res = c.request(method, path, json={"user_id": "u", "item_id": "i", "event_type": "view"})
    assert res.status_code == status
    assert "items" not in res.text and "added" not in res.text


def test_health_is_open_and_metrics_count_requests(shop_server):
    with shop_server.client(None) as c:
        assert c.get("/healthz").json() == {"status": "ok", "models": ["itemknn", "popular", "rules"],
                                            "forget": {"pending": 0, "oldest_seconds": 0.0,
                                                       "exact": ["itemknn", "popular", "rules"], "refit": []}}
    with shop_server.client("read") as c:
        for _ in range(3):
            c.get("/recommendations/popular", params={"n": 2})
    with shop_server.client("admin") as c:
        text = c.get("/metrics").text
    line = next(x for x in text.splitlines()
                if x.startswith('shelfwise_http_requests_total{method="GET",route="/recommendations/popular"'))
    assert line.endswith(" 3.0")
    assert "shelfwise_http_request_seconds_bucket" in text and "shelfwise_events_ingested_total" in text


def test_a_revoked_key_stops_working_within_the_key_cache_time(shop_server):
    # the server trusts a checked key for serve.key_cache_seconds (1 s here) without asking
    # the database again; a revocation by another process takes effect within that time
    where = ["--home", str(shop_server.home), "--store-url", shop_server.store_url]
    key = cli("keys", "create", "temp", "--scope", "read", *where)
    headers = {"Authorization": f"Bearer {key}"}
    with shop_server.client(None) as c:
        assert c.get("/recommendations/popular", headers=headers).status_code == 200
        cli("keys", "revoke", key.split("_")[1], *where)
        revoked = time.monotonic()
        while c.get("/recommendations/popular", headers=headers).status_code == 200:
            assert time.monotonic() - revoked < 1.5, "the revoked key still works after the cache time"
            time.sleep(0.05)
        assert c.get("/recommendations/popular", headers=headers).status_code == 401


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("GET", "/users/U000001/recommendations?n=0", None, "n"),
    ("GET", "/users/U000001/recommendations?n=1001", None, "n"),
    ("GET", "/users/U000001/recommendations?model=magic", None, "model"),
    ("POST", "/events", {"user_id": "u", "item_id": "i", "event_type": "teleport"}, "event_type"),
    ("POST", "/events", {"user_id": "", "item_id": "i", "event_type": "view"}, "user_id"),
    ("POST", "/events", {"user_id": "u" * 256, "item_id": "i", "event_type": "view"}, "user_id"),
    ("POST", "/events", {"user_id": "u", "event_type": "view"}, "item_id"),
    ("POST", "/events", {"user_id": "u", "item_id": "i", "event_type": "view", "timestamp": "soon"},
     "timestamp"),
    ("POST", "/events", {"events": []}, "events"),
    ("POST", "/events", {"events": [{"user_id": "u", "item_id": "i", "event_type": "view"}] * 10_001},
     "events"),
    ("PUT", "/items/x", {"price": -1}, "price"),
    # text times out of range, or past pandas' datetimes, are refused like numbers out of range
    *[("POST", "/events", {"user_id": "u", "item_id": "i", "event_type": "view", "timestamp": t}, "timestamp")
      for t in ("9999-12-31T23:59:59", "1600-01-01", "2200-01-01", "1e10", True)],
    ("POST", "/session/recommendations", {"events": [{"item_id": "P000001", "timestamp": "2200-01-01"}]},
     "timestamp"),
    ("POST", "/events", {"events": [{"user_id": "u", "item_id": "i", "event_type": "view",
                                     "timestamp": "9999-12-31T23:59:59"}]}, "timestamp"),
    # a NUL, which PostgreSQL's text cannot hold, in a body's id or a path's
    ("POST", "/events", {"user_id": "A\u0000B", "item_id": "i", "event_type": "view"}, "user_id"),
    ("PUT", "/users/A%00B", {"attributes": {}}, "user_id"),
])
def test_bad_input_is_a_422_naming_the_field(shop_server, method, path, body, field):
    before = _count(shop_server)
    with shop_server.client("admin") as c:
        res = c.request(method, path, json=body)
    assert res.status_code in (413, 422), res.text
    assert field in res.text
    assert _count(shop_server) == before  # nothing of a rejected batch is stored


def test_a_body_over_one_mebibyte_is_refused(shop_server):
    with shop_server.client("write") as c:
        res = c.post("/events", content=b"{" + b" " * (1 << 20) + b"}",
                     headers={"content-type": "application/json"})
    assert res.status_code == 413 and "body" in res.text


def test_unknown_items_404_and_unknown_shoppers_get_the_documented_fallback(shop_server):
    with shop_server.client("read") as c:
        assert c.get("/items/no-such-item/similar").status_code == 404
        assert c.get("/items/no-such-item/bought-together").status_code == 404
        res = c.get("/users/never-seen/recommendations", params={"n": 4}).json()
        popular = c.get("/recommendations/popular", params={"n": 4}).json()
    assert res["fallback"] == "unknown shopper" and res["model"] == "itemknn"
    assert [i["item_id"] for i in res["items"]] == [i["item_id"] for i in popular["items"]]
    assert {i["model"] for i in res["items"]} == {"popular"}


def test_resending_a_batch_adds_nothing(shop_server):
    batch = {"events": [{"user_id": "resend", "item_id": "P000001", "event_type": "view", "timestamp": 1.0},
                        {"user_id": "resend", "item_id": "P000002", "event_type": "cart", "timestamp": 2.0}]}
    with shop_server.client("write") as c:
        first = c.post("/events", json=batch).json()
        again = c.post("/events", json=batch).json()
    assert first == {"received": 2, "added": 2, "duplicates": 0}
    assert again == {"received": 2, "added": 0, "duplicates": 2}


def test_an_untrained_model_falls_back_and_says_so(shop_server):
    with shop_server.client("read") as c:
        res = c.get("/users/U000001/recommendations", params={"model": "ease", "n": 3})
    assert res.status_code == 200
    body = res.json()
    assert body["fallback"] == "model 'ease' is not trained" and len(body["items"]) == 3
    with shop_server.client("admin") as c:
        assert 'shelfwise_fallbacks_total{reason="model unavailable"}' in c.get("/metrics").text


def _count(server) -> int:
    from shelfwise.store import open_store

    store = open_store(server.store_url)
    try:
        return store.count_events()
    finally:
        store.close()


@pytest.mark.parametrize("body", [
    b'{"user_id": "u", "item_id": "i", "event_type": "review", "value": 1e400}',
    b'{"user_id": "u", "item_id": "i", "event_type": "review", "value": NaN}',
    b'{"user_id": "u", "item_id": "i", "event_type": "view", "timestamp": 1e20}',
])
def test_non_finite_and_absurd_numbers_are_a_422(shop_server, body):
    with shop_server.client("write") as c:
        res = c.post("/events", content=body, headers={"content-type": "application/json"})
    assert res.status_code == 422, res.text
    assert "value" in res.text or "timestamp" in res.text
    assert "1e400" not in res.text and '"input"' not in res.text  # the input is not echoed


def test_a_chunked_body_over_one_mebibyte_is_refused_too(shop_server):
    chunk = b" " * 65536

    def body():
        yield b'{"events": ['
        for _ in range(20):
            yield chunk
        yield b"]}"

    with shop_server.client("write") as c:
        res = c.post("/events", content=body(), headers={"content-type": "application/json"})
    assert res.status_code == 413


def test_items_a_model_cannot_score_are_filled_from_popular_and_say_so(shop_server):
    # a shopper whose only item is one nobody else touched: item-kNN has nothing for them
    with shop_server.client("admin") as c:
        c.put("/items/lonely-item", json={"title": "lonely"})
        c.post("/events", json={"user_id": "lonely-shopper", "item_id": "lonely-item", "event_type": "view"})
        body = c.get("/users/lonely-shopper/recommendations", params={"n": 5}).json()
        popular = [i["item_id"] for i in c.get("/recommendations/popular", params={"n": 5}).json()["items"]]
    assert all(i["score"] != 0 or i["model"] == "popular" for i in body["items"])
    assert [i["item_id"] for i in body["items"]] == popular
    assert {i["reason"] for i in body["items"]} == {"unknown shopper"}


def test_a_declared_body_that_never_comes_does_not_hold_the_connection(shop_server):
    """Content-Length: 5,000,000 with nothing sent is a 413 at once (over the limit); a body
    under the limit that stops arriving is a 408 within ``serve.body_timeout_seconds``."""
    host, port = shop_server.url.removeprefix("http://").split(":")
    key = shop_server.keys["write"]
    for declared, status in ((5_000_000, 413), (100, 408)):
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(f"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n{{".encode())
            start = time.monotonic()
            answer = sock.recv(4096).decode()
        assert answer.startswith(f"HTTP/1.1 {status}"), answer
        assert time.monotonic() - start < 8  # this server waits 2 s for a body (the default is 10)


def test_a_shopper_whose_id_holds_a_slash_is_served_changed_and_forgotten(shop_server):
    """``guest/42`` and ``a?b#c%d`` are addressed by their encoded ids on every /users route
    (and Gorse's), and forgetting one leaves nothing of them."""
    items = ["P000001", "P000002", "P000003"]
    for user in ("guest/42", "a?b#c%d/e"):
        path = "/users/" + quote(user, safe="")
        events = [{"user_id": user, "item_id": i, "event_type": "purchase", "timestamp": 1000.0 + k}
                  for k, i in enumerate(items)]
        with shop_server.client("admin") as c:
            assert c.post("/events", json={"events": events}).json()["added"] == 3
            listed = c.get(f"{path}/recommendations", params={"n": 5})
            assert listed.status_code == 200, listed.text
            shown = [i["item_id"] for i in listed.json()["items"]]
            assert shown and not set(shown) & set(items)  # their own purchases excluded: it is them
            explained = c.get(f"{path}/recommendations/{shown[0]}/explain")
            assert explained.status_code == 200 and explained.json()["user_id"] == user
            assert c.put(path, json={"attributes": {"tier": "gold"}}).json()["user_id"] == user
            gorse = c.get("/api/user/" + quote(user, safe=""))
            assert gorse.status_code == 200 and gorse.json()["UserId"] == user, gorse.text
            forgotten = c.delete(path).json()
            assert forgotten["user_id"] == user and forgotten["events_deleted"] == 3
            assert c.get(f"{path}/recommendations", params={"n": 5}).json()["fallback"] == "unknown shopper"


def test_a_session_takes_text_times_as_events_do(shop_server):
    body = {"events": [{"item_id": "P000001", "event_type": "view", "timestamp": "2026-01-01T00:00:00Z"},
                       {"item_id": "P000002", "event_type": "cart", "timestamp": 1767225660.0}], "n": 3}
    with shop_server.client("read") as c:
        res = c.post("/session/recommendations", json=body)
    assert res.status_code == 200 and len(res.json()["items"]) == 3


def test_the_api_docs_need_no_cdn(shop_server):
    """/docs and /redoc load their scripts and styles from the server itself."""
    with shop_server.client(None) as c:
        for page in ("/docs", "/redoc"):
            html = c.get(page).text
            assert "cdn." not in html and "unpkg" not in html, page
            assets = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', html)
            assert assets and all(c.get(a).status_code == 200 for a in assets), (page, assets)
