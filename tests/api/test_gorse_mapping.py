"""Known answers for how Gorse's values map onto shelfwise: times, durations, categories as
rules, labels as attributes, feedback types as behaviours."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shelfwise.api.gorse.categories import prefixes
from shelfwise.api.gorse.common import GorseError
from shelfwise.api.gorse.recommend import go_duration
from shelfwise.data.gorse import (
    GO_ZERO_TIME,
    GorseSettings,
    attributes_to_labels,
    format_time,
    gorse_item,
    item_row,
    labels_to_attributes,
    parse_time,
)
from shelfwise.ranking.catalogue import matches_paths


@pytest.mark.parametrize(("text", "seconds", "written"), [
    ("2022-02-24T00:00:00Z", 1645660800.0, "2022-02-24T00:00:00Z"),
    ("2020-02-02T20:20:02.02Z", 1580674802.02, "2020-02-02T20:20:02.02Z"),
    ("2022-02-24T08:00:00+08:00", 1645660800.0, "2022-02-24T00:00:00Z"),  # stored and read back in UTC
    ("2022-02-24", 1645660800.0, "2022-02-24T00:00:00Z"),
    ("2010-01-01T01:01:01.000001", 1262307661.000001, "2010-01-01T01:01:01.000001Z"),  # no zone: UTC
    ("Feb 24 2022 10:00", 1645696800.0, "2022-02-24T10:00:00Z"),
    ("1645660800", 1645660800.0, "2022-02-24T00:00:00Z"),
    ("1645660800123", 1645660800.123, "2022-02-24T00:00:00.123Z"),
    (GO_ZERO_TIME, None, GO_ZERO_TIME),
    ("", None, GO_ZERO_TIME),
])
def test_times_read_leniently_written_as_go(text, seconds, written):
    assert parse_time(text) == pytest.approx(seconds) if seconds is not None else parse_time(text) is None
    assert format_time(parse_time(text)) == written


def test_an_unreadable_time_says_so():
    with pytest.raises(ValueError, match='Could not find format for "next week"'):
        parse_time("next week")


def test_go_durations():
    assert [go_duration(d) for d in ("", "0", "10m", "1h30m", "1.5h", "300ms", "-2s")] == \
        [0.0, 0.0, 600.0, 5400.0, 5400.0, 0.3, -2.0]
    with pytest.raises(GorseError):
        go_duration("10 minutes")


def test_categories_become_path_prefixes():
    paths = [("Beauty", "Skin care"), ("Sale", "Beauty", "Skin care"), ("Sale", "Home")]
    assert prefixes(paths, ["Beauty"]) == ["Beauty", "Sale > Beauty"]
    assert prefixes(paths, ["Skin care", "Sale"]) == ["Sale > Beauty > Skin care"]
    assert prefixes(paths, ["Toys"]) == []
    # what the rule keeps: exactly the items holding every category asked for
    items = [*paths, ("Home",), ()]
    assert matches_paths(items, prefixes(paths, ["Beauty"])).tolist() == [True, True, False, False, False]
    assert matches_paths(items, prefixes(paths, ["Sale"])).tolist() == [False, True, True, False, False]


@pytest.mark.parametrize("labels", [["a", "b"], {"language": "JavaScript", "stars": 3}, "tag", {}, [], None])
def test_labels_round_trip_through_attributes(labels):
    assert attributes_to_labels(labels_to_attributes(labels)) == labels


def test_an_item_round_trips_and_keeps_shelfwise_fields():
    item = {"ItemId": "P1", "IsHidden": True, "Categories": ["a", "b"], "Timestamp": "2022-08-07T00:26:46Z",
            "Labels": ["x"], "Comment": "a thing"}
    stored = {"description": "kept", "brand": "Acme", "price": 9.5}
    row = item_row({**item, "Timestamp": parse_time(item["Timestamp"])}, stored)
    assert (row["in_stock"], row["title"], row["category"]) == (False, "a thing", ["a", "b"])
    assert {k: row[k] for k in stored} == stored
    assert gorse_item(row) == item


def test_feedback_types_map_to_behaviours():
    settings = GorseSettings()
    assert [settings.behaviour(t) for t in ("star", "like", "read", "purchase", "view", "dislike")] == \
        ["favorite", "favorite", "view", "purchase", "view", None]
    custom = GorseSettings(positive_feedback_types=["buy"], read_feedback_types=["seen"],
                           negative_feedback_types=["hide"], behaviours={"buy": "purchase", "seen": "view"})
    assert (custom.behaviour("buy"), custom.behaviour("seen"), custom.behaviour("hide")) == ("purchase", "view", None)
    with pytest.raises(ValidationError, match="name no shelfwise behaviour"):
        GorseSettings(positive_feedback_types=["buy"])
    with pytest.raises(ValidationError, match="both positive and negative"):
        GorseSettings(negative_feedback_types=["star"])
