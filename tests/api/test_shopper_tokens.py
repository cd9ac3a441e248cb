"""Keys a shop front can hold, against a real server: a public key reads only non-personal
lists; a shopper token reads its one shopper's list and explanations and nothing else, and
a token for another shopper, expired, changed, or whose key is revoked, is refused."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest

from shelfwise.api.tokens import PREFIX
from tests.api.conftest import cli

SHOPPER, OTHER = "U000079", "U000328"


@pytest.fixture(scope="module")
def front(attack_server):
    """The attacks' server (limits off: they are tested in test_rate_limits.py), with a public key."""
    return attack_server


def _token(server, user: str, ttl: float = 600) -> str:
    with server.client("read") as c:
        res = c.post("/tokens", json={"user_id": user, "ttl_seconds": ttl})
    assert res.status_code == 200, res.text
    assert res.json()["user_id"] == user and res.json()["expires"] > time.time()
    return res.json()["token"]


def _bearer(server, credential: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {credential}"})


def test_a_public_key_reads_non_personal_lists_only(front):
    with _bearer(front, front.keys["public"]) as c:
        assert c.get("/recommendations/popular", params={"n": 3}).status_code == 200
        assert c.get("/items/P000001/similar", params={"n": 3}).status_code == 200
        assert c.post("/session/recommendations", json={"events": [{"item_id": "P000001"}]}).status_code == 200
        assert c.get("/healthz").status_code == 200
        for path in (f"/users/{SHOPPER}/recommendations", f"/users/{SHOPPER}", f"/users/{SHOPPER}/events",
                     f"/users/{SHOPPER}/profile", "/users", "/items", "/items/P000001", "/models",
                     f"/api/recommend/{SHOPPER}", "/api/popular"):
            res = c.get(path)
            assert res.status_code == 403, (path, res.status_code, res.text[:100])
            assert "items" not in res.text and SHOPPER not in res.text
        assert c.post("/tokens", json={"user_id": SHOPPER}).status_code == 403  # it cannot mint tokens


def test_a_shopper_token_reads_that_shoppers_list_and_nothing_else(front):
    token = _token(front, SHOPPER)
    with front.client("read") as c:
        expected = c.get(f"/users/{SHOPPER}/recommendations", params={"n": 5}).json()
    with _bearer(front, token) as c:
        mine = c.get(f"/users/{SHOPPER}/recommendations", params={"n": 5})
        assert mine.status_code == 200
        assert [i["item_id"] for i in mine.json()["items"]] == [i["item_id"] for i in expected["items"]]
        why = c.get(f"/users/{SHOPPER}/recommendations/{expected['items'][0]['item_id']}/explain")
        assert why.status_code == 200 and why.json()["user_id"] == SHOPPER
        theirs = c.get(f"/users/{OTHER}/recommendations", params={"n": 5})
        assert theirs.status_code == 403 and "another shopper" in theirs.text
        assert c.get(f"/users/{OTHER}/recommendations/P000001/explain").status_code == 403
        for method, path in (("GET", f"/users/{SHOPPER}"), ("GET", f"/users/{SHOPPER}/events"),
                             ("GET", f"/users/{SHOPPER}/profile"), ("GET", "/recommendations/popular"),
                             ("GET", f"/api/recommend/{SHOPPER}"), ("POST", "/tokens"), ("POST", "/events"),
                             ("DELETE", f"/users/{SHOPPER}"), ("GET", "/metrics")):
            res = c.request(method, path, json={"user_id": SHOPPER, "item_id": "P1", "event_type": "view"})
            assert res.status_code == 403, (method, path, res.status_code)


def test_expired_changed_and_orphaned_tokens_are_401(front):
    where = ["--home", str(front.home), "--store-url", front.store_url]
    expired = cli("keys", "token", SHOPPER, "--ttl", "1", *where)
    payload, signature = expired.removeprefix(PREFIX).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    moved = base64.urlsafe_b64encode(json.dumps({**claims, "u": OTHER}).encode()).decode().rstrip("=")
    longer = base64.urlsafe_b64encode(json.dumps({**claims, "e": claims["e"] + 10**6}).encode()).decode().rstrip("=")
    key = cli("keys", "create", "issuer", "--scope", "read", *where)
    with _bearer(front, key) as c:
        orphan = c.post("/tokens", json={"user_id": SHOPPER}).json()["token"]
    cli("keys", "revoke", key.split("_")[1], *where)
    time.sleep(1.6)  # the CLI's one-second token has expired, the revocation is past the key cache
    cases = {"expired": expired, "another shopper's payload, old signature": f"{PREFIX}{moved}.{signature}",
             "a later expiry, old signature": f"{PREFIX}{longer}.{signature}",
             "a changed signature": expired[:-2] + ("AA" if expired[-2:] != "AA" else "BB"),
             "its key revoked": orphan, "not a token": PREFIX + "garbage"}
    for why, token in cases.items():
        with _bearer(front, token) as c:
            res = c.get(f"/users/{SHOPPER}/recommendations")
        assert res.status_code == 401, (why, res.status_code, res.text)
        assert "items" not in res.text
    with _bearer(front, expired) as c:
        assert "expired" in c.get(f"/users/{SHOPPER}/recommendations").text


def test_token_requests_out_of_bounds_are_refused(front):
    with front.client("read") as c:
        assert c.post("/tokens", json={"user_id": SHOPPER, "ttl_seconds": 10**9}).status_code == 422
        assert c.post("/tokens", json={"user_id": "", "ttl_seconds": 60}).status_code == 422
        assert c.post("/tokens", json={"user_id": SHOPPER, "ttl_seconds": -1}).status_code == 422
    with front.client("write") as c:
        assert c.post("/tokens", json={"user_id": SHOPPER}).status_code == 403
    with front.client(None) as c:
        assert c.post("/tokens", json={"user_id": SHOPPER}).status_code == 401


def test_the_token_secret_is_a_private_file_and_never_in_the_database(front):
    secret = (front.home / "tokens.secret")
    assert secret.stat().st_mode & 0o777 == 0o600
    text = secret.read_text().strip()
    assert len(bytes.fromhex(text)) == 32
    assert text.encode() not in (front.home / "events.db").read_bytes()
