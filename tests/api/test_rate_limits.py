"""Rate limits against two real server processes sharing one store and one Redis: per key,
per browser address, and failed authentications per address and key id (the API's and the
dashboard login's), each answered 429 with Retry-After. Client addresses are told to the
servers as a proxy on 127.0.0.1 would, in X-Forwarded-For (uvicorn trusts it from there)."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import httpx
import pytest

from shelfwise.api.ratelimit import Limiter
from shelfwise.config import ServeSettings
from tests.api.conftest import cli, start_server

REDIS = "redis://127.0.0.1:6379/0"
LIMITS = {"SHELFWISE_SERVE__RATE_LIMIT": "100/minute", "SHELFWISE_SERVE__BROWSER_RATE_LIMIT": "30/minute",
          "SHELFWISE_SERVE__AUTH_FAILURE_LIMIT": "20/minute"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two server processes over one SQLite store and one Redis namespace (the limits'),
    nothing trained: an answer that is not a 429 (a 503 before training) has passed the limits."""
    home = tmp_path_factory.mktemp("limits")
    env = {**LIMITS, "SHELFWISE_ONLINE__URL": REDIS, "SHELFWISE_ONLINE__NAMESPACE": f"t{uuid.uuid4().hex[:12]}"}
    store = f"sqlite:///{home / 'events.db'}"
    a = start_server(home, store, env)
    a.keys["public"] = cli("keys", "create", "front", "--scope", "public", "--home", str(home), "--store-url", store)
    b = start_server(home, store, env, keys=a.keys)  # keys live in the shared store
    yield a, b
    for srv in (a, b):
        srv.proc.terminate()
        srv.proc.wait(timeout=10)


def _from(address: str, credential: str | None = None) -> dict[str, str]:
    headers = {"X-Forwarded-For": address}
    if credential:
        headers["Authorization"] = f"Bearer {credential}"
    return headers


def test_a_key_past_its_limit_is_429_with_retry_after_in_every_process(pair):
    a, b = pair
    answers = []
    with httpx.Client(timeout=30) as c:
        for k in range(120):  # 60 to each process: one limit of 100 a minute, counted in Redis
            srv = (a, b)[k % 2]
            answers.append(c.get(f"{srv.url}/models", headers=_from("192.0.2.1", a.keys["read"])))
        codes = [r.status_code for r in answers]
        assert codes.count(200) == 100 and codes.count(429) == 20 and codes[:100] == [200] * 100
        refused = answers[-1]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60 and "rate limit" in refused.json()["detail"]
        gorse = c.get(f"{a.url}/api/popular", headers=_from("192.0.2.1", a.keys["read"]))
        assert gorse.status_code == 429 and "Retry-After" in gorse.headers  # Gorse's plain-text 429 too
        # a shopper's list, which the list cache may answer before routing, is counted and refused alike
        listed = c.get(f"{a.url}/users/u1/recommendations", headers=_from("192.0.2.1", a.keys["read"]))
        assert listed.status_code == 429 and listed.json()["detail"].startswith("rate limit")
        # another key is counted on its own
        assert c.get(f"{b.url}/models/versions", headers=_from("192.0.2.1", a.keys["admin"])).status_code == 200


def test_a_browser_key_is_limited_per_client_address(pair):
    a, b = pair
    with httpx.Client(timeout=30) as c:
        first = [c.get(f"{(a, b)[k % 2].url}/recommendations/popular",
                       headers=_from("198.51.100.7", a.keys["public"])).status_code for k in range(35)]
        other = c.get(f"{a.url}/recommendations/popular", headers=_from("198.51.100.8", a.keys["public"]))
    assert 429 not in first[:30] and first[30:] == [429] * 5
    assert other.status_code != 429  # another shopper's browser is not held up


def test_500_wrong_secrets_for_the_admin_key_id_are_not_all_answered(pair):
    a, b = pair
    admin = a.keys["admin"]
    key_id = admin.split("_")[1]
    with httpx.Client(timeout=30) as c:
        codes = [c.get(f"{(a, b)[k % 2].url}/models",
                       headers=_from("203.0.113.5", f"sw_{key_id}_{secrets.token_urlsafe(24)}")).status_code
                 for k in range(500)]
        assert codes[:20] == [401] * 20 and codes[20:] == [429] * 480
        # that address is not heard until it waits, even with the right key ...
        assert c.get(f"{a.url}/models", headers=_from("203.0.113.5", admin)).status_code == 429
        # ... while the key's holder elsewhere is not locked out, and a wrong secret for the
        # key id from elsewhere gets no verdict either
        assert c.get(f"{b.url}/models", headers=_from("203.0.113.6", admin)).status_code == 200
        guess = c.get(f"{b.url}/models", headers=_from("203.0.113.7", f"sw_{key_id}_{secrets.token_urlsafe(24)}"))
        assert guess.status_code == 429 and int(guess.headers["Retry-After"]) >= 1


def test_the_dashboard_login_has_the_same_failure_limit(pair):
    a, _ = pair
    with httpx.Client(timeout=30) as c:
        codes = [c.post(f"{a.url}/dashboard/login", data={"key": f"sw_0000abcd_{k}"},
                        headers=_from("203.0.113.20")).status_code for k in range(25)]
        assert codes[:20] == [401] * 20 and codes[20:] == [429] * 5
        paused = c.post(f"{a.url}/dashboard/login", data={"key": a.keys["admin"]}, headers=_from("203.0.113.20"))
        assert paused.status_code == 429 and "retry after" in paused.text and "Retry-After" in paused.headers
        elsewhere = c.post(f"{a.url}/dashboard/login", data={"key": a.keys["admin"]}, headers=_from("203.0.113.21"))
        assert elsewhere.status_code == 303


def test_the_limiter_counts_in_memory_without_redis():
    serve = ServeSettings(rate_limit="5/minute", browser_rate_limit="", auth_failure_limit="2/minute")

    async def run():
        limiter = Limiter(serve)
        keys = [await limiter.hit("key", "k1") for _ in range(7)]
        other = await limiter.hit("key", "k2")
        browser = [await limiter.hit("browser", "k3", "addr") for _ in range(50)]  # '' is no limit
        over_before = await limiter.over("failure", "address", "x")
        fails = [await limiter.hit("failure", "address", "x") for _ in range(3)]
        return keys, other, browser, over_before, fails, await limiter.over("failure", "address", "x")

    keys, other, browser, over_before, fails, over_after = asyncio.run(run())
    assert keys[:5] == [None] * 5 and all(1 <= w <= 60 for w in keys[5:])
    assert other is None and browser == [None] * 50
    assert over_before is None and fails[:2] == [None, None] and fails[2] is not None and over_after is not None
