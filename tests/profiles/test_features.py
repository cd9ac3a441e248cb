"""Feature preparation: formula (3) by hand, two features built to correlate merged (or one
dropped) and reported, formula (4) scaling every prepared feature to [0, 1]."""

import numpy as np
import pandas as pd
import pytest

from shelfwise.profiles.features import FeaturePrep, pearson


def frame(seed=0, n=500):
    rng = np.random.default_rng(seed)
    spend = rng.gamma(2.0, 50.0, n)
    return pd.DataFrame({
        "spend": spend,
        "orders": spend / 25 + rng.normal(0, 0.3, n),  # built to follow spend
        "days_idle": 100 - spend / 5 + rng.normal(0, 2, n),  # built to fall as spend rises
        "evening": rng.random(n),  # independent
        "flag": np.ones(n),  # constant
    })


def test_pearson_is_formula_3_by_hand():
    x, y = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 5.0, 9.0])
    # means 2.5 and 5; deviations (-1.5, -.5, .5, 1.5) and (-3, -1, 0, 4): 4.5 + .5 + 0 + 6 = 11
    assert pearson(x, y) == pytest.approx(11 / np.sqrt(5.0 * 26.0))
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])


def test_correlated_features_are_merged_and_reported():
    f = frame()
    prep = FeaturePrep(threshold=0.8).fit(f)
    assert prep.columns_ == ["spend+orders+days_idle", "evening"]
    members, signs = prep.groups_[0]
    assert members == ["spend", "orders", "days_idle"] and signs == [1.0, 1.0, -1.0]  # idle days flipped
    X = prep.transform(f)
    assert X.shape == (len(f), 2) and X.min() == 0.0 and X.max() == 1.0
    # the merged feature orders shoppers as spend does (its members agree after the flip)
    assert pearson(X[:, 0], f["spend"].to_numpy()) > 0.95
    assert any(line.startswith("merged into spend+orders+days_idle") for line in prep.report_)
    assert "dropped flag: constant over every shopper" in prep.report_
    # min-max of the untouched feature is formula (4) exactly
    e = f["evening"].to_numpy()
    assert np.allclose(X[:, 1], (e - e.min()) / (e.max() - e.min()))


def test_drop_mode_keeps_the_first_and_state_round_trips():
    f = frame(1)
    prep = FeaturePrep(threshold=0.8, mode="drop").fit(f)
    assert prep.columns_ == ["spend", "evening"]
    again = FeaturePrep.from_dict(prep.to_dict())
    assert np.array_equal(again.transform(f), prep.transform(f))
    # a looser threshold leaves the pair apart
    assert FeaturePrep(threshold=0.999).fit(f).columns_ == ["spend", "orders", "days_idle", "evening"]


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="'threshold' parameter of FeaturePrep"):
        FeaturePrep(threshold=1.5).fit(frame())
    with pytest.raises(ValueError, match="'mode' parameter"):
        FeaturePrep(mode="sum").fit(frame())
