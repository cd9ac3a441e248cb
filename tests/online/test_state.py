"""The online state contract, on both backends: the in-process one and a real Redis server
(127.0.0.1:6379), each test in its own namespace (the ``state`` fixture: conftest.py)."""

import re
import uuid

import pytest

from shelfwise.online.state import RedisState


def test_counters_count_distinct_shoppers_or_weights(state):
    state.accept([("a", "p1", 1.0), ("a", "p1", 5.0), ("b", "p1", 1.0), ("a", "p2", 3.0),
                  ("a", "p3", 0.0)], counters="v1", once=True)
    assert state.popularity("v1") == {"p1": 2.0, "p2": 1.0}  # a zero-weight behaviour counts nothing
    state.accept([("a", "p1", 1.0), ("a", "p1", 5.0)], counters="v2", once=False)
    assert state.popularity("v2") == {"p1": 6.0}  # each version has its own counters
    state.accept([("c", "p9", 1.0)], counters=None, once=True)
    assert state.popularity("v2") == {"p1": 6.0}


def test_the_counters_log_replays_their_increments_from_any_place(state):
    state.accept([("a", "p1", 1.0), ("a", "p1", 5.0), ("b", "p1", 1.0), ("a", "p2", 3.0)],
                 counters="v1", once=True)
    assert state.popularity_log("v1", 0) == [("p1", 1.0), ("p1", 1.0), ("p2", 1.0)]  # distinct shoppers
    state.accept([("c", "p\tx", 2.5)], counters="v2", once=False)  # a tab in an id survives
    state.accept([("d", "p3", 2.5)], counters="v2", once=False)
    log = state.popularity_log("v2", 0)
    assert log == [("p\tx", 2.5), ("p3", 2.5)] and state.popularity_log("v2", 1) == log[1:]
    assert state.popularity_log("v2", 2) == [] and state.popularity_log("none", 0) == []
    total: dict[str, float] = {}
    for item, amount in log:
        total[item] = total.get(item, 0.0) + amount
    assert total == state.popularity("v2")


def test_recent_items_newest_first_and_bounded(state):
    state.accept([("a", f"p{k}", 1.0) for k in range(5)] + [("a", None, 0.0)], counters=None, once=True)
    assert state.recent("a") == ["p4", "p3", "p2"]
    assert state.recent("nobody") == []


def test_an_event_invalidates_the_shoppers_lists_even_one_being_computed(state):
    generation, hit = state.cached("a", "k")
    assert hit is None
    state.cache("a", "k", generation, b'{"items": [1]}', seconds=60)
    assert state.cached("a", "k") == (generation, b'{"items": [1]}')
    assert state.cached("b", "k")[1] is None  # another shopper's list is not shared

    late, _ = state.cached("a", "k2")  # a list computed from the store as it was then ...
    state.accept([("a", "p1", 1.0)], counters=None, once=True)  # ... while an event arrives
    state.cache("a", "k2", late, b"stale", seconds=60)
    assert state.cached("a", "k")[1] is None and state.cached("a", "k2")[1] is None

    generation, _ = state.cached("a", "k")
    state.cache("a", "k", generation, b"fresh", seconds=60)
    assert state.cached("a", "k")[1] == b"fresh"
    state.forget("a")
    assert state.cached("a", "k")[1] is None and state.recent("a") == []


def test_cached_lists_expire(state):
    import time

    generation, _ = state.cached("a", "k")
    state.cache("a", "k", generation, b"x", seconds=0.05)
    time.sleep(0.1)
    assert state.cached("a", "k")[1] is None


def test_two_redis_clients_share_one_state():
    namespace = f"test-{uuid.uuid4().hex}"
    one = RedisState("redis://127.0.0.1:6379/0", namespace=namespace)
    two = RedisState("redis://127.0.0.1:6379/0", namespace=namespace)
    try:
        generation, _ = two.cached("a", "k")
        two.cache("a", "k", generation, b"list", seconds=60)
        one.accept([("a", "p1", 1.0)], counters="v", once=True)
        assert two.cached("a", "k")[1] is None and two.popularity("v") == {"p1": 1.0}
        assert two.recent("a") == ["p1"]
    finally:
        one.client.delete(*one.client.scan_iter(f"{namespace}:*"))
        one.close()
        two.close()


def test_a_redis_url_that_does_not_answer_is_one_clear_error():
    from shelfwise.config import OnlineSettings
    from shelfwise.errors import ShelfwiseError
    from shelfwise.online.state import open_state

    with pytest.raises(ShelfwiseError, match=re.escape("online.url: cannot use Redis at redis://127.0.0.1:1/0")):
        open_state(OnlineSettings(url="redis://127.0.0.1:1/0"))
    with pytest.raises(ValueError, match="redis://"):
        OnlineSettings(url="http://example.com")
