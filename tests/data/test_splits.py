import pandas as pd

from shelfwise.data.splits import leave_one_out, random_holdout, temporal_split


def _events():
    return pd.DataFrame({
        "user_id": ["a"] * 4 + ["b"] * 3 + ["c"],
        "item_id": ["1", "2", "3", "2", "5", "6", "7", "9"],
        "event_type": ["view"] * 8,
        "timestamp": [1, 2, 3, 4, 1, 2, 3, 1],
    })


def test_leave_one_out_by_event_with_validation():
    s = leave_one_out(_events(), validation=True)
    assert sorted(zip(s.test.user_id, s.test.item_id, strict=False)) == [("a", "2"), ("b", "7")]
    assert sorted(zip(s.validation.user_id, s.validation.item_id, strict=False)) == [("a", "3"), ("b", "6")]
    assert len(s.train) == 8 - 4  # c has a single event and stays in train


def test_leave_last_new_item_out_removes_all_its_events():
    s = leave_one_out(_events(), by="item")
    # a's last *new* item is 3 (item 2 was first touched at t=2)
    assert sorted(zip(s.test.user_id, s.test.item_id, strict=False)) == [("a", "3"), ("b", "7")]
    a_train = s.train[s.train.user_id == "a"]
    assert a_train.item_id.tolist() == ["1", "2", "2"]


def test_temporal_and_random_splits_partition_events():
    t = temporal_split(_events(), cutoff=2.5)
    assert set(t.test.timestamp) == {3, 4} and set(t.train.timestamp) == {1, 2}
    r = random_holdout(_events(), test_fraction=0.5, seed=1)
    held = set(zip(r.test.user_id, r.test.item_id, strict=False))
    assert held and not held & set(zip(r.train.user_id, r.train.item_id, strict=False))
