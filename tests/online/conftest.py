"""The online state's backends for the contract tests: the in-process one and a real Redis
server (127.0.0.1:6379), each test in its own namespace, removed afterwards."""

from __future__ import annotations

import uuid

import pytest

from shelfwise.online.state import MemoryState, RedisState

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def namespace():
    """A fresh Redis namespace; its keys are deleted after the test."""
    import redis

    name = f"test-{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["memory", "redis"])
def make_state(request, namespace):
    """``make_state(**kwargs)``: a state of the test's backend. Redis ones share the test's
    namespace (two of them are two processes' views of one state)."""
    opened = []

    def make(**kwargs):
        s = MemoryState(**kwargs) if request.param == "memory" else RedisState(
            REDIS_URL, namespace=namespace, **kwargs)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def state(make_state):
    return make_state(recent_items=3)
