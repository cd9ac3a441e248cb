import numpy as np
import pandas as pd
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.ranking.exclusion import drop_excluded, exclusion_mask, repurchase_intervals
from tests.ranking.conftest import DAY, build

ITEMS = ["coffee", "tea", "kettle", "soap"]
USERS = ["u1", "u2", "u3"]
CATALOGUE = pd.DataFrame({"item_id": ITEMS, "category": [
    ["Grocery", "Coffee"], ["Grocery", "Coffee"], ["Home", "Kitchen"], ["Home", "Cleaning"]]})
ROWS = [
    # coffee: repeat gaps 10, 10 (u1) and 14 (u2) days -> its own median, 10 days
    ("u1", "coffee", "purchase", 0), ("u1", "coffee", "purchase", 10), ("u1", "coffee", "purchase", 20),
    ("u2", "coffee", "purchase", 0), ("u2", "coffee", "purchase", 14),
    # tea: one gap of 30 days, too few alone -> the category's median of 10, 10, 14, 30 = 12 days
    ("u3", "tea", "purchase", 0), ("u3", "tea", "purchase", 30),
    # kettle: bought once, no repeats in its category -> never again
    ("u1", "kettle", "purchase", 5),
    # soap: two purchase events a minute apart are one order, not a repeat -> never
    ("u2", "soap", "purchase", 1), ("u2", "soap", "purchase", 1 + 60 / DAY),
    # touches that are not purchases stay eligible
    ("u1", "tea", "view", 21), ("u1", "soap", "cart", 22), ("u3", "kettle", "favorite", 23),
]


@pytest.fixture()
def shop():
    return build(ROWS, ITEMS, USERS, CATALOGUE)


def excluded(mask, interactions):
    """{user: sorted item ids} of a mask."""
    return {u: sorted(interactions.item_ids[mask[i].indices].tolist())
            for i, u in enumerate(interactions.user_ids)}


def test_intervals_learned_per_item_then_category_then_never(shop):
    iv = repurchase_intervals(shop, min_repeats=3)
    assert iv.tolist() == [10 * DAY, 12 * DAY, np.inf, np.inf]


def test_purchases_excluded_until_their_interval_passes(shop):
    iv = repurchase_intervals(shop, min_repeats=3)
    # day 40: u1's coffee (last day 20) and u2's (day 14) are due again; u3's tea (day 30,
    # interval 12) is not; kettle and soap never are. Viewed, carted, favourited stay.
    assert excluded(exclusion_mask(shop, intervals=iv, now=40 * DAY), shop) == {
        "u1": ["kettle"], "u2": ["soap"], "u3": ["tea"]}
    # day 22: nothing is due yet
    assert excluded(exclusion_mask(shop, intervals=iv, now=22 * DAY), shop) == {
        "u1": ["coffee", "kettle"], "u2": ["coffee", "soap"], "u3": ["tea"]}


def test_without_intervals_every_purchase_stays_excluded(shop):
    assert excluded(exclusion_mask(shop), shop) == {
        "u1": ["coffee", "kettle"], "u2": ["coffee", "soap"], "u3": ["tea"]}


def test_excluded_types_are_a_parameter(shop):
    got = excluded(exclusion_mask(shop, exclude_types=("purchase", "view")), shop)
    assert got == {"u1": ["coffee", "kettle", "tea"], "u2": ["coffee", "soap"], "u3": ["tea"]}
    # excluding every behaviour is the old "exclude everything seen"
    every = exclusion_mask(shop, exclude_types=EVENT_TYPES)
    assert (every != shop.binary.astype(bool)).nnz == 0
    with pytest.raises(ValueError, match=r"Unknown behaviour.*'like'"):
        exclusion_mask(shop, exclude_types=("like",))


def test_default_interval_now_is_the_latest_event(shop):
    iv = repurchase_intervals(shop, min_repeats=3)
    # the latest event is u3's tea purchase on day 30: u1's coffee (day 20) is exactly its
    # 10-day interval old, which counts as due; u3's tea was bought just now
    assert excluded(exclusion_mask(shop, intervals=iv), shop) == {
        "u1": ["kettle"], "u2": ["soap"], "u3": ["tea"]}
    day_before = excluded(exclusion_mask(shop, intervals=iv, now=30 * DAY - 1), shop)
    assert day_before["u1"] == ["coffee", "kettle"]


def test_drop_excluded_keeps_order_and_pads(shop):
    mask = exclusion_mask(shop)  # u1: coffee(0), kettle(2); u3: tea(1)
    items = np.array([[0, 1, 2, 3], [1, 3, -1, -1]])
    scores = np.array([[4, 3, 2, 1], [9, 8, -np.inf, -np.inf]], dtype=np.float32)
    got_items, got_scores = drop_excluded(items, scores, np.array([0, 2]), mask, 3)
    assert got_items.tolist() == [[1, 3, -1], [3, -1, -1]]
    assert got_scores.tolist() == [[3, 1, -np.inf], [8, -np.inf, -np.inf]]


@pytest.mark.slow
def test_purchase_only_real_log_equals_exclude_everything_seen(data_dir):
    """Amazon Beauty is purchase-only with no item bought twice by anyone: nothing can come
    due again, and the behaviour-aware mask is exactly the old mask of everything seen."""
    from shelfwise.data.loaders.sequences import load_amazon

    inter = Interactions.from_events(load_amazon(data_dir / "amazon-beauty", "Beauty").events)
    iv = repurchase_intervals(inter)
    assert np.isinf(iv).all()
    mask = exclusion_mask(inter, intervals=iv)
    assert mask.nnz == 198_502
    assert (mask != inter.binary.astype(bool)).nnz == 0
