"""The EventStore contract: every backend passes the same suite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shelfwise.data.schemas import Event, Item, User
from shelfwise.data.validation import validate_events
from shelfwise.store import open_store


def _events(n=5, user="u1", start=0.0):
    raw = pd.DataFrame({
        "user_id": [user] * n, "item_id": [f"i{k}" for k in range(n)],
        "event_type": ["view"] * (n - 1) + ["purchase"], "timestamp": start + np.arange(n),
        "session_id": ["s1"] * n, "value": [1500.0] + [None] * (n - 1),
    })
    return validate_events(raw)[0]


def test_append_is_idempotent_on_event_ids(store):
    ev = _events()
    assert store.append_events(ev) == 5
    assert store.append_events(ev) == 0
    assert store.append_events(pd.concat([ev, _events(2, "u2")])) == 2
    assert store.count_events() == 7


def test_duplicates_inside_one_batch_are_stored_once(store):
    ev = _events(3)
    assert store.append_events(pd.concat([ev, ev.iloc[:1]])) == 3
    assert store.count_events() == 3


def test_snapshot_round_trips_every_field_in_insertion_order(store):
    ev = _events()
    ev.loc[2, "context"] = '{"page": "home"}'
    store.append_events(ev)
    snap = store.snapshot()
    assert snap["event_id"].tolist() == ev["event_id"].tolist()
    assert snap["timestamp"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert snap["value"].iloc[0] == 1500.0 and snap["value"].iloc[1:].isna().all()
    assert snap["context"].iloc[2] == '{"page": "home"}'
    assert snap["session_id"].unique().tolist() == ["s1"]


def test_pydantic_events_append(store):
    e = Event(user_id="u9", item_id="i1", event_type="cart", timestamp=5.0, context={"a": 1})
    assert store.append([e, e]) == 1
    hist = store.user_history("u9")
    assert hist["event_type"].tolist() == ["cart"] and hist["event_id"].iloc[0] == e.event_id


def test_user_history_is_time_ordered_and_scoped(store):
    store.append_events(_events(3, "u1", start=10))
    store.append_events(_events(2, "u1", start=0).assign(
        event_id=lambda f: f["event_id"] + "b"))
    store.append_events(_events(4, "u2"))
    hist = store.user_history("u1")
    assert hist["timestamp"].tolist() == [0, 1, 10, 11, 12]
    assert set(hist["user_id"]) == {"u1"}
    items, types, times = store.user_events("u1")  # the serving read: the same events
    assert items == hist["item_id"].tolist() and types == hist["event_type"].tolist()
    assert times.tolist() == [0, 1, 10, 11, 12]
    assert [len(x) for x in store.user_events("nobody")] == [0, 0, 0]


def test_delete_user_removes_everything_of_one_user_only(store):
    store.append_events(_events(3, "u1"))
    store.append_events(_events(4, "u2"))
    store.upsert_users([User(user_id="u1"), User(user_id="u2")])
    report = store.delete_user("u1")
    assert (report.events, report.user_rows) == (3, 1)
    assert store.user_history("u1").empty
    assert store.count_events() == 4
    assert store.users()["user_id"].tolist() == ["u2"]
    assert store.delete_user("nobody").events == 0


def test_items_and_users_upsert(store):
    store.upsert_items([Item(item_id="a", title="Apple", category="Food > Fruit", price=1.5)])
    store.upsert_items(pd.DataFrame({"item_id": ["a", "b"], "title": ["Green apple", "Bread"],
                                     "attributes": [{"colour": "green"}, {}]}))
    items = store.items().set_index("item_id")
    assert items.loc["a", "title"] == "Green apple"
    assert items.loc["a", "attributes"] == {"colour": "green"}
    assert items.loc["b", "category"] == []
    store.upsert_users([User(user_id="u1", consent=False, attributes={"region": "north"})])
    users = store.users()
    assert bool(users["consent"].iloc[0]) is False
    assert users["attributes"].iloc[0] == {"region": "north"}


def test_store_reopens_with_its_data(store_url):
    s = open_store(store_url)
    s.append_events(_events())
    s.close()
    again = open_store(store_url)
    assert again.count_events() == 5
    again.close()


def test_empty_store_reads():
    s = open_store("sqlite://")
    assert s.count_events() == 0 and s.snapshot().empty and s.items().empty
    s.close()


def test_unknown_scheme_is_a_clear_error():
    with pytest.raises(ValueError, match="No event store for URL scheme 'mongodb'"):
        open_store("mongodb://localhost/x")
