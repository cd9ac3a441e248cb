import pandas as pd
import pytest

from shelfwise.data.schemas import Event
from shelfwise.data.validation import MalformedInput, validate_events


def _raw():
    return pd.DataFrame({
        "user_id": ["u1", "u2", "", "u4", "u5", "u6"],
        "item_id": ["i1", "i2", "i3", None, "i5", "i6"],
        "event_type": ["view", "teleport", "cart", "purchase", "Favourite", "buy"],
        "timestamp": ["10", "11", "12", "13", "yesterday", "2024-01-01T00:00:00Z"],
        "line": [2, 3, 4, 5, 6, 7],
    })


def test_fail_mode_lists_every_bad_row_with_line_and_field():
    with pytest.raises(MalformedInput) as exc:
        validate_events(_raw(), on_error="fail", source="shop.csv")
    errors = exc.value.errors
    assert [(e.line, e.field) for e in errors] == [
        (3, "event_type"), (4, "user_id"), (5, "item_id"), (6, "timestamp")]
    assert "line 3: event_type: unknown event type" in str(exc.value)
    assert "shop.csv" in str(exc.value)


def test_skip_mode_keeps_good_rows_and_reports_the_rest():
    clean, errors = validate_events(_raw(), on_error="skip")
    assert len(errors) == 4
    assert clean["user_id"].tolist() == ["u1", "u6"]
    assert clean["event_type"].tolist() == ["view", "purchase"]  # alias "buy"
    assert clean["timestamp"].tolist() == [10.0, 1704067200.0]


def test_bulk_ids_match_single_event_ids():
    raw = pd.DataFrame({"user_id": ["u"], "item_id": ["i"], "event_type": ["view"],
                        "timestamp": ["5"], "value": ["1.5"]})
    clean, _ = validate_events(raw)
    single = Event(user_id="u", item_id="i", event_type="view", timestamp=5, value=1.5)
    assert clean["event_id"].iloc[0] == single.event_id


def test_non_numeric_value_and_bad_context_are_errors():
    raw = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["i", "j"],
                        "event_type": ["view", "view"], "timestamp": [1, 2],
                        "value": ["lots", "3"], "context": ['{"a": 1}', "[1, 2]"]})
    _, errors = validate_events(raw, on_error="skip")
    assert [(e.line, e.field) for e in errors] == [(1, "value"), (2, "context")]
