import numpy as np
import pandas as pd

from shelfwise.data.preprocess import PreprocessReport, dwell_weights, k_core, preprocess


def test_k_core_iterates_to_a_fixed_point():
    # user c is in 1 pair; dropping c leaves item z with one user, which then goes too
    pairs = [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y"), ("b", "z"), ("c", "z")]
    ev = pd.DataFrame(pairs, columns=["user_id", "item_id"])
    report = PreprocessReport()
    out = k_core(ev, report, k_users=2, k_items=2)
    assert sorted(map(tuple, out.to_numpy())) == [("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")]
    assert report.steps[0].removed == 2


def test_dwell_weighting_zeroes_bounces_and_scales_by_median():
    ev = pd.DataFrame({"event_type": ["view", "view", "view", "cart"],
                       "value": [500.0, 10_000.0, 40_000.0, np.nan]})
    out = dwell_weights(ev, PreprocessReport())
    w = out["weight"].to_numpy()
    assert w[0] == 0.0 and w[3] == 1.0
    assert np.isclose(w[1], 1.0)  # the median dwell weighs 1
    assert w[2] > 1.0


def test_preprocess_reports_duplicates_and_fills_items():
    ev = pd.DataFrame({"event_id": ["e1", "e1", "e2"], "user_id": ["a", "a", "b"],
                       "item_id": ["x", "x", "y"], "event_type": ["view"] * 3,
                       "timestamp": [1.0, 1.0, 2.0], "value": [np.nan] * 3})
    items = pd.DataFrame({"item_id": ["x", "y", "z"], "title": ["X", None, "Z"],
                          "category": [["Home"], ["Home"], []], "price": [10.0, np.nan, 30.0]})
    out, items2, report = preprocess(ev, items)
    assert len(out) == 2
    assert report.steps[0].step == "drop_duplicates" and report.steps[0].removed == 1
    assert items2["title"].tolist() == ["X", "y", "Z"]
    assert items2["price"].tolist() == [10.0, 10.0, 30.0]  # median of its category
    assert items2["price_scaled"].tolist() == [0.0, 0.0, 1.0]
    assert any("drop_duplicates" in line for line in report.lines())
