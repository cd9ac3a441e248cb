"""Entropy and coverage on a hand-made exposure log."""

import numpy as np
import pandas as pd
import pytest

from shelfwise.simulation import category_entropy, daily_metrics


def log(rows):
    frame = pd.DataFrame(rows, columns=["day", "user", "item", "category"])
    for col in ("viewed", "carted", "purchased"):
        frame[col] = frame["item"] == 0  # item 0 is viewed, carted and bought every time
    frame["revenue"] = np.where(frame["purchased"], 9.5, 0.0)
    return frame


EXPOSURES = log([
    # day 0: shopper 0 sees categories 0, 0, 1, 1 (1 bit); shopper 1 sees 2, 2, 2, 2 (0 bits)
    (0, 0, 0, 0), (0, 0, 1, 0), (0, 0, 2, 1), (0, 0, 3, 1),
    (0, 1, 4, 2), (0, 1, 5, 2), (0, 1, 6, 2), (0, 1, 0, 2),
    # day 1: shopper 0 sees 2, 2, 3, 3; an item without a category (-1) is left out
    (1, 0, 4, 2), (1, 0, 5, 2), (1, 0, 7, 3), (1, 0, 8, 3), (1, 0, 9, -1),
])


def test_category_entropy_by_hand():
    h = category_entropy(["b", "b", "a", "a", "a", "a", "c"], [0, 1, 0, 1, 2, 3, -1])
    np.testing.assert_allclose(h, [2.0, 1.0])  # groups a (4 categories), b (2); c has none


def test_daily_entropy_and_coverage_by_hand():
    daily = daily_metrics(EXPOSURES, n_items=20).set_index("day")
    assert daily["visits"].tolist() == [2, 1]
    assert daily["views"].tolist() == [2, 0] and daily["purchases"].tolist() == [2, 0]
    assert daily.loc[0, "revenue"] == pytest.approx(19.0)
    # day 0: lists of 1 and 0 bits; day 1: one list of 1 bit
    np.testing.assert_allclose(daily["list_entropy"], [0.5, 1.0])
    # cumulative: day 0 as the lists; day 1 shopper 0 has counts 2,2,2,2 (2 bits), shopper 1 0
    np.testing.assert_allclose(daily["shopper_entropy"], [0.5, 1.0])
    # items shown: day 0 {0..6} = 7 of 20; day 1 {4, 5, 7, 8, 9} = 5; so far {0..9} = 10
    np.testing.assert_allclose(daily["coverage"], [0.35, 0.25])
    np.testing.assert_allclose(daily["coverage_cum"], [0.35, 0.5])


def test_a_day_without_exposures_keeps_the_running_figures():
    daily = daily_metrics(EXPOSURES, n_items=20, days=3).set_index("day")
    assert daily.loc[2, "visits"] == 0 and daily.loc[2, "coverage"] == 0.0
    assert daily.loc[2, "shopper_entropy"] == 1.0 and daily.loc[2, "coverage_cum"] == 0.5
