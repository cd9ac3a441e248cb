import numpy as np
import pandas as pd
import pytest

from shelfwise.data.interactions import Interactions


@pytest.fixture
def view():
    events = pd.DataFrame({
        "user_id": ["a", "a", "b", "a", "b"],
        "item_id": ["x", "y", "x", "x", "z"],
        "event_type": ["view", "purchase", "cart", "review", "view"],
        "timestamp": [3.0, 1.0, 2.0, 4.0, 1.0],
        "value": [np.nan, np.nan, np.nan, 4.0, np.nan],
    })
    items = pd.DataFrame({"item_id": ["w", "x"], "title": ["Whisk", "Xylophone"]})
    return Interactions.from_events(events, items=items)


def test_matrix_sums_behaviour_weights_and_reviews_count_by_rating(view):
    assert view.user_ids.tolist() == ["a", "b"]
    assert view.item_ids.tolist() == ["x", "y", "z", "w"]  # catalogue-only item last
    dense = view.matrix.toarray()
    # a: view x (1) + review x rated 4 = 5; purchase y = 5. b: cart x = 3, view z = 1.
    np.testing.assert_array_equal(dense, [[5, 5, 0, 0], [3, 0, 1, 0]])


def test_sequences_are_chronological_per_user(view):
    items, _types, times = view.sequence(0)
    assert view.item_ids[items].tolist() == ["y", "x", "x"]
    assert times.tolist() == [1.0, 3.0, 4.0]
    items_b, _, _ = view.sequence(1)
    assert view.item_ids[items_b].tolist() == ["z", "x"]


def test_catalogue_is_aligned_to_item_indices(view):
    assert view.items["item_id"].tolist() == ["x", "y", "z", "w"]
    assert view.items["title"].tolist()[0] == "Xylophone"
    assert pd.isna(view.items["title"].iloc[1])


def test_view_is_immutable_and_round_trips(tmp_path, view):
    with pytest.raises(ValueError):
        view.seq_items[0] = 3
    view.save(tmp_path)
    back = Interactions.load(tmp_path)
    assert (back.matrix != view.matrix).nnz == 0
    assert back.user_ids.tolist() == view.user_ids.tolist()
    np.testing.assert_array_equal(back.seq_times, view.seq_times)


def test_custom_weights_and_fixed_index_space():
    events = pd.DataFrame({"user_id": ["a", "a"], "item_id": ["x", "q"],
                           "event_type": ["view", "view"], "timestamp": [1.0, 2.0]})
    v = Interactions.from_events(events, weights={"view": 2.5}, item_ids=["x", "y"])
    assert v.matrix.toarray().tolist() == [[2.5, 0.0]]  # q is outside the fixed space
    with pytest.raises(ValueError, match="Unknown behaviour"):
        Interactions.from_events(events, weights={"teleport": 1.0})
