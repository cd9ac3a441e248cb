"""Bandit feedback counters on both backends: times shown and clicks per arm, a click counted
once per (recommendation, item), shared by every process on one Redis."""

from __future__ import annotations

import threading
import time

from shelfwise.online.state import RedisState

from .conftest import REDIS_URL


def test_counts_after_a_planted_sequence(state):
    state.bandit_shown("cat", ["Food", "Toys", "Food"])  # Food in two slots of one list
    state.bandit_shown("cat", ["Toys"])
    state.bandit_shown("cat", [])
    state.bandit_shown("other", ["Food"])
    assert state.bandit_clicked("cat", "r1", "p1", "Food") is True
    assert state.bandit_clicked("cat", "r1", "p1", "Food") is False  # the same click again
    assert state.bandit_clicked("cat", "r1", "p2", "Toys") is True
    assert state.bandit_clicked("cat", "r2", "p1", "Food") is True  # the item in another list
    assert state.bandit_clicked("cat", "r1", "p:x", "Food") is True  # ("r1", "p:x") and ...
    assert state.bandit_clicked("cat", "r1:p", "x", "Food") is True  # ... ("r1:p", "x") differ
    assert state.bandit_clicked("other", "r1", "p1", "Food") is True  # another bandit
    assert state.bandit_counts("cat") == {"Food": (2, 4), "Toys": (2, 1)}
    assert state.bandit_counts("other") == {"Food": (1, 1)}
    assert state.bandit_counts("nobody") == {}


def test_a_click_is_counted_once_within_its_window(make_state):
    state = make_state(click_window=0.2)
    assert state.bandit_clicked("cat", "r1", "p1", "Food") is True
    assert state.bandit_clicked("cat", "r1", "p1", "Food") is False
    time.sleep(0.3)  # the marker of the first click has expired
    assert state.bandit_clicked("cat", "r1", "p1", "Food") is True
    assert state.bandit_counts("cat") == {"Food": (0, 2)}


def test_one_click_sent_at_once_by_many_clients_counts_once(make_state):
    first = make_state()
    # Redis: eight connections to one state, as eight processes would hold; memory: one state
    shared = [first] + [make_state() for _ in range(7)] if isinstance(first, RedisState) else [first] * 8
    start, counted = threading.Barrier(8), []

    def click(s):
        start.wait()
        counted.append(s.bandit_clicked("cat", "r1", "p1", "Food"))

    threads = [threading.Thread(target=click, args=(s,)) for s in shared]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(counted) == [False] * 7 + [True]
    assert shared[0].bandit_counts("cat") == {"Food": (0, 1)}


def test_two_redis_clients_agree(namespace):
    one = RedisState(REDIS_URL, namespace=namespace)
    two = RedisState(REDIS_URL, namespace=namespace)
    try:
        one.bandit_shown("cat", ["Food", "Toys"])
        two.bandit_shown("cat", ["Food"])
        assert one.bandit_clicked("cat", "r1", "p1", "Food") is True
        assert two.bandit_clicked("cat", "r1", "p1", "Food") is False
        assert one.bandit_counts("cat") == two.bandit_counts("cat") == {"Food": (2, 1), "Toys": (1, 0)}
    finally:
        one.close()
        two.close()
