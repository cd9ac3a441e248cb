"""The impression log, on every backend: what served lists showed, one row per shown item."""

from __future__ import annotations

import pandas as pd
import pytest

from shelfwise.data.schemas import User
from shelfwise.store.base import IMPRESSION_COLUMNS

from .test_contract import _events


def _shown(rec: str, user: str, at: float, n: int = 3) -> list[dict]:
    """A list of ``n`` ranked items; ``propensity`` and ``arm`` left out (deterministic)."""
    return [{"recommendation_id": rec, "position": k + 1, "item_id": f"{rec}-i{k}", "user_id": user,
             "created_at": at, "model": "als", "version": "v1", "policy": "ranked", "source": "ranked"}
            for k in range(n)]


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts, NaN as None (so a null propensity compares equal)."""
    obj = frame.astype(object)
    return obj.where(pd.notna(obj), None).to_dict("records")


def _lists(frame: pd.DataFrame) -> list[tuple[str, int]]:
    return list(zip(frame["recommendation_id"], frame["position"], strict=True))


def test_rows_round_trip_exactly(store):
    explore = {"recommendation_id": "r1", "position": 2, "item_id": "Käse 42", "user_id": "u1",
               "created_at": 1767225600.123456, "model": "hybrid", "version": "20261202T101500-ab12cd",
               "policy": "thompson-category", "source": "explore", "propensity": 0.125,
               "arm": "Food > Cheese"}
    ranked = {**explore, "position": 1, "item_id": "P7", "source": "ranked"}
    del ranked["propensity"], ranked["arm"]  # deterministic rows may leave both out
    assert store.log_impressions([explore, ranked]) == 2
    frame = store.impressions("r1")
    assert list(frame.columns) == list(IMPRESSION_COLUMNS)
    assert frame["position"].dtype == "int64" and frame["created_at"].dtype == "float64"
    assert frame["propensity"].dtype == "float64"
    unset = {"experiment": None, "variant": None}  # served outside any experiment
    assert _records(frame) == [{**ranked, "propensity": None, "arm": None, **unset}, {**explore, **unset}]
    assert store.impressions("nothing").columns.tolist() == list(IMPRESSION_COLUMNS)


def test_a_resent_row_is_skipped(store):
    rows = _shown("r1", "u1", 100.0)
    assert store.log_impressions(rows) == 3
    assert store.log_impressions(rows) == 0
    more = _shown("r1", "u1", 100.0, n=5)[2:]  # position 3 again, 4 and 5 new
    assert store.log_impressions(more + more[-1:]) == 2  # a repeat inside one batch counts once
    assert _lists(store.impressions()) == [("r1", p) for p in (1, 2, 3, 4, 5)]
    assert store.log_impressions([]) == 0


def test_filters_and_order(store):
    store.log_impressions(_shown("r3", "", 300.0, n=2) + _shown("r2", "u2", 200.0)
                          + _shown("r1", "u1", 100.0) + _shown("r4", "u1", 400.0, n=1))
    assert _lists(store.impressions()) == ([("r1", p) for p in (1, 2, 3)] + [("r2", p) for p in (1, 2, 3)]
                                           + [("r3", 1), ("r3", 2), ("r4", 1)])
    assert _lists(store.impressions("r2")) == [("r2", 1), ("r2", 2), ("r2", 3)]
    assert _lists(store.impressions(user_id="u1")) == [("r1", 1), ("r1", 2), ("r1", 3), ("r4", 1)]
    assert _lists(store.impressions(user_id="")) == [("r3", 1), ("r3", 2)]  # anonymous sessions
    assert _lists(store.impressions(since=300.0)) == [("r3", 1), ("r3", 2), ("r4", 1)]
    assert _lists(store.impressions(user_id="u1", since=150.0)) == [("r4", 1)]
    assert _lists(store.impressions("r1", user_id="u2")) == []
    assert _lists(store.impressions(limit=4)) == [("r1", 1), ("r1", 2), ("r1", 3), ("r2", 1)]


def test_lists_shown_at_one_time_stay_together_in_code_point_order(store):
    # PostgreSQL's collation could put "a" before "B"; every backend orders by code point.
    store.log_impressions(_shown("a", "u1", 5.0, n=2) + _shown("B", "u2", 5.0, n=2))
    assert _lists(store.impressions()) == [("B", 1), ("B", 2), ("a", 1), ("a", 2)]


def test_prune_deletes_exactly_the_older_rows(store):
    store.log_impressions(_shown("r1", "u1", 100.0) + _shown("r2", "u1", 200.0) + _shown("r3", "u2", 300.0))
    assert store.prune_impressions(200.0) == 3  # created_at 200 is not before 200
    assert sorted(set(store.impressions()["recommendation_id"])) == ["r2", "r3"]
    assert store.prune_impressions(200.0) == 0
    assert store.prune_impressions(1e12) == 6 and store.impressions().empty


def test_delete_user_removes_the_shoppers_impressions_only(store):
    store.append_events(_events(2, "u1"))
    store.upsert_users([User(user_id="u1")])
    store.log_impressions(_shown("r1", "u1", 100.0) + _shown("r2", "u2", 100.0, n=2)
                          + _shown("r3", "u1", 200.0, n=1))
    report = store.delete_user("u1")
    assert (report.events, report.user_rows, report.impressions) == (2, 1, 4)
    assert _lists(store.impressions()) == [("r2", 1), ("r2", 2)]
    assert store.delete_user("u1").impressions == 0


@pytest.mark.parametrize(("field", "value", "message"), [
    ("model", "m" * 65, "model must be a str of at most 64"),
    ("source", "random", "source must be one of"),
    ("position", 0, "position must be an int >= 1"),
    ("propensity", 1.5, r"propensity must be in \[0, 1\]"),
    ("created_at", float("nan"), "created_at must be a finite number"),
    ("colour", "red", r"unknown field\(s\) \['colour'\]"),
])
def test_a_bad_row_stores_nothing(store, field, value, message):
    rows = _shown("r1", "u1", 100.0)
    rows[1] = {**rows[1], field: value}
    with pytest.raises(ValueError, match=f"impression row 1: {message}"):
        store.log_impressions(rows)
    assert store.impressions().empty
