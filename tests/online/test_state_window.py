"""Live windowed popularity on both backends: per item, the distinct shoppers with an event
in the window, counted exactly against a hand count of planted events."""

from __future__ import annotations

import time

import numpy as np

from shelfwise.online.state import MemoryState, RedisState

from .conftest import REDIS_URL


def test_window_counts_equal_a_hand_count(state):
    now = time.time()
    state.touch([("a", "p1", now - 100), ("a", "p1", now - 10),  # a on p1 twice: one shopper
                 ("b", "p1", now - 500),  # before the 300 s window below
                 ("c", "p1", now - 200), ("c", "p2", now - 50), ("d", "p2", now - 299)], horizon_s=3600)
    state.touch([("b", "p2", now - 5), ("a", "p1", now - 400)], horizon_s=3600)  # a's older event moves nothing
    counts = state.window_counts(["p1", "p2", "p3"], since=now - 300)
    assert counts.dtype == np.int64 and counts.tolist() == [2, 3, 0]  # p1: a, c; p2: b, c, d
    assert state.window_counts(["p1"], since=now - 600).tolist() == [3]  # b's event now counts
    assert state.window_counts(["p2", "p1"], since=now - 20).tolist() == [1, 1]  # b at -5, a at -10
    assert state.window_counts([], since=now).shape == (0,)


def test_a_batch_longer_than_a_script_call_counts_whole(state):
    now = time.time()
    state.touch([(f"u{k}", f"p{k % 2}", now - k * 0.01) for k in range(2500)], horizon_s=3600)
    assert state.window_counts(["p0", "p1"], since=now - 24.995).tolist() == [1250, 1250]
    assert state.window_counts(["p0", "p1"], since=now - 10.005).tolist() == [501, 500]  # k <= 1000


def test_entries_older_than_the_horizon_are_dropped(state):
    now = time.time()
    state.touch([("a", "p1", now - 7200), ("b", "p1", now - 30)], horizon_s=3600)
    assert state.window_counts(["p1"], since=0.0).tolist() == [1]  # a's event was never kept
    state.touch([("c", "p1", now)], horizon_s=10)  # a shorter horizon trims b's entry (30 s old)
    assert state.window_counts(["p1"], since=0.0).tolist() == [1]


def test_forget_takes_the_shopper_out_of_the_counts(state):
    now = time.time()
    state.touch([("a", "p1", now - 10), ("a", "p2", now - 20), ("b", "p1", now - 30)], horizon_s=3600)
    assert state.window_counts(["p1", "p2"], since=now - 60).tolist() == [2, 1]
    state.forget("a")
    assert state.window_counts(["p1", "p2"], since=now - 60).tolist() == [1, 0]
    state.touch([("a", "p2", now)], horizon_s=3600)  # a new event counts again
    assert state.window_counts(["p1", "p2"], since=now - 60).tolist() == [1, 1]


def test_memory_keeps_about_one_horizon_of_items():
    state = MemoryState()
    state.touch([("a", "p1", time.time())], horizon_s=0.05)
    time.sleep(0.1)
    state.touch([("b", "p2", time.time())], horizon_s=0.05)  # a horizon on: every item is trimmed
    assert list(state._windows) == ["p2"]


def test_redis_window_keys_expire_after_a_horizon(namespace):
    state = RedisState(REDIS_URL, namespace=namespace)
    try:
        state.touch([("a", "p1", time.time())], horizon_s=120.5)
        assert 0 < state.client.ttl(f"{namespace}:win:p1") <= 121
        assert 121 < state.client.ttl(f"{namespace}:wintouched:a") <= 242
        state.forget("a")
        assert state.client.exists(f"{namespace}:wintouched:a") == 0
    finally:
        state.close()


def test_two_redis_clients_see_the_same_counts(namespace):
    one = RedisState(REDIS_URL, namespace=namespace)
    two = RedisState(REDIS_URL, namespace=namespace)
    try:
        now = time.time()
        one.touch([("a", "p1", now - 10), ("c", "p2", now - 10)], horizon_s=3600)
        two.touch([("b", "p1", now - 5), ("a", "p1", now - 1)], horizon_s=3600)
        assert one.window_counts(["p1", "p2"], since=now - 60).tolist() == [2, 1]
        assert two.window_counts(["p1", "p2"], since=now - 60).tolist() == [2, 1]
        two.forget("c")  # forgetting in one process takes the shopper out for all
        assert one.window_counts(["p2"], since=now - 60).tolist() == [0]
    finally:
        one.close()
        two.close()
