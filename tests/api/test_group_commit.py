"""Group commit of single events, on a real SQLite store: the per-row fast path stores exactly
what the general validation stores, and concurrent events share commits yet each request
learns about its own event."""

import threading

import pandas as pd
import pytest

from shelfwise.api.commit import GroupCommit, plain_row
from shelfwise.api.schemas import EventIn
from shelfwise.data.schemas import EVENT_COLUMNS
from shelfwise.data.validation import validate_events
from shelfwise.store import open_store


@pytest.mark.parametrize("body", [
    {"user_id": " u1 ", "item_id": "i1", "event_type": "view"},
    {"user_id": "u1", "item_id": "i1", "event_type": "purchase", "timestamp": 1_700_000_000,
     "value": 3, "session_id": "s", "context": {"b": 1, "a": [1, 2]}},
    {"user_id": "u1", "item_id": "i1", "event_type": "review", "timestamp": 1.5, "value": 4.25,
     "event_id": "given-id"},
    {"user_id": "u2", "item_id": "i9", "event_type": "cart", "timestamp": 0.1, "context": {}},
    # a text time is read when the body is validated, so it takes the fast path too
    {"user_id": "u", "item_id": "i", "event_type": "view", "timestamp": "2026-01-01T00:00:00Z"},
])
def test_the_fast_path_stores_what_validation_stores(body):
    row = EventIn.model_validate(body).row(1_764_000_000.123)
    clean, errors = validate_events(pd.DataFrame([row]), on_error="fail")
    expected = tuple(None if pd.isna(v) else v for v in clean.iloc[0][list(EVENT_COLUMNS)])
    assert not errors and plain_row(row) == expected


def test_unusual_events_take_the_general_path():
    body = {"user_id": "u", "event_type": "search", "context": {"query": "tea"}}  # no item
    assert plain_row(EventIn.model_validate(body).row(1.0)) is None


def test_concurrent_events_share_commits_and_each_gets_its_answer(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    commits: list[int] = []
    committer = GroupCommit(store, on_commit=lambda rows: commits.append(len(rows)), window_s=0.05)
    rows = [EventIn(user_id=f"u{k % 7}", item_id=f"i{k}", event_type="view", timestamp=float(k)).row(0)
            for k in range(60)]
    rows.append(EventIn(user_id="u0", item_id="i0", event_type="view", timestamp=0.0).row(0))  # a re-send
    rows.append(EventIn(user_id="u0", item_id="i1", event_type="view", timestamp="1970-01-01T00:00:05Z").row(0))
    results = [None] * len(rows)

    def send(k):
        results[k] = committer.submit(rows[k]).result(timeout=30)

    threads = [threading.Thread(target=send, args=(k,)) for k in range(len(rows))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    committer.close()
    assert sorted(results) == [0] + [1] * 61  # the re-send of an identical event adds nothing
    assert store.count_events() == 61
    assert sum(commits) == 61 and len(commits) < 30  # stored rows reported, in shared commits
    store.close()
