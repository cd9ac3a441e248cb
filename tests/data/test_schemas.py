import pytest
from pydantic import ValidationError

from shelfwise.data.schemas import Event, Item, derive_event_id


def test_event_id_is_derived_deterministically_from_content():
    a = Event(user_id="u1", item_id="i1", event_type="view", timestamp=100)
    b = Event(user_id="u1", item_id="i1", event_type="view", timestamp=100.0)
    c = Event(user_id="u1", item_id="i1", event_type="view", timestamp=101)
    assert a.event_id == b.event_id == derive_event_id("u1", "i1", "view", 100.0)
    assert a.event_id != c.event_id
    assert len(a.event_id) == 32


def test_given_event_id_is_kept_and_iso_timestamps_parse():
    e = Event(event_id="abc", user_id=7, item_id=9, event_type="purchase",
              timestamp="2024-01-01T00:00:00Z")
    assert e.event_id == "abc" and e.user_id == "7" and e.timestamp == 1704067200.0


@pytest.mark.parametrize("kwargs, field", [
    ({"user_id": "u", "item_id": "i", "event_type": "teleport", "timestamp": 1}, "event_type"),
    ({"user_id": "", "item_id": "i", "event_type": "view", "timestamp": 1}, "user_id"),
    ({"user_id": "u", "item_id": "i", "event_type": "view", "timestamp": "soon"}, "timestamp"),
])
def test_bad_events_name_the_field(kwargs, field):
    with pytest.raises(ValidationError) as exc:
        Event(**kwargs)
    assert field in str(exc.value)


def test_item_is_required_except_for_searches():
    with pytest.raises(ValidationError, match="item_id is required"):
        Event(user_id="u", event_type="cart", timestamp=1)
    s = Event(user_id="u", event_type="search", timestamp=1, context={"query": "red shoes"})
    assert s.item_id is None


def test_item_category_path_from_text():
    assert Item(item_id="x", category="Home > Kitchen > Knives").category == [
        "Home", "Kitchen", "Knives"]
