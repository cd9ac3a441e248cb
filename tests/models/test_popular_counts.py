"""MostPopular's counts: with count="users" each shopper counts once per item, decayed by
their latest event on it; with count="weighted" every event counts by its behaviour."""

import numpy as np
import pandas as pd
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.models import create

DAY = 86400.0
# item p: u1 views it 5 times, the latest at day 10 (the newest event), u2 once at day 9
# item q: u3 buys it once at day 10; item r: u1 viewed it at day 0 and again at day 8
EVENTS = pd.DataFrame(
    [("u1", "p", "view", t * DAY) for t in (1, 2, 3, 4, 10)]
    + [("u2", "p", "view", 9 * DAY), ("u3", "q", "purchase", 10 * DAY),
       ("u1", "r", "view", 0.0), ("u1", "r", "view", 8 * DAY)],
    columns=["user_id", "item_id", "event_type", "timestamp"])


def _popularity(**params) -> dict[str, float]:
    view = Interactions.from_events(EVENTS)
    model = create("popular", **params).fit(view)
    return dict(zip(view.item_ids, model.popularity_.tolist(), strict=True))


def test_users_with_a_half_life_count_each_shopper_once_by_their_latest_event():
    pop = _popularity(count="users", half_life_days=1.0)
    assert pop["p"] == pytest.approx(1 + 0.5)  # u1 at age 0, u2 at age 1 day
    assert pop["q"] == pytest.approx(1.0)
    assert pop["r"] == pytest.approx(0.25)  # u1's latest on r is 2 days old


def test_users_without_a_half_life_count_distinct_shoppers():
    assert _popularity(count="users") == {"p": 2.0, "q": 1.0, "r": 1.0}


def test_a_long_half_life_tends_to_the_undecayed_user_count():
    pop = _popularity(count="users", half_life_days=1e9)
    assert pop == pytest.approx({"p": 2.0, "q": 1.0, "r": 1.0})


def test_weighted_counts_every_event_by_behaviour_and_age():
    pop = _popularity(count="weighted", half_life_days=1.0)
    views_p = sum(np.power(0.5, 10 - t) for t in (1, 2, 3, 4, 10, 9))
    assert pop["p"] == pytest.approx(views_p * 1.0, rel=1e-6)
    assert pop["q"] == pytest.approx(5.0)  # a purchase weighs 5
    assert pop["r"] == pytest.approx(0.5 ** 10 + 0.5 ** 2, rel=1e-6)
