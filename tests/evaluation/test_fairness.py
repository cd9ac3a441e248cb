"""Fairness metrics (``evaluation.fairness``) on small hand-made inputs with known answers,
and in the shop's evaluation report."""

from __future__ import annotations

import numpy as np
import pytest

from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.evaluation.fairness import (
    activity_groups,
    brand_exposure,
    brand_gap,
    exposure_gini,
    ndcg_by_activity,
)


def test_exposure_gini_by_hand():
    recs = np.array([[0, 1, 3], [0, 2, 3]])
    # top-2 exposure counts over 4 items: [2, 1, 1, 0], sorted [0, 1, 1, 2]:
    # sum((2i - n - 1) c_i) / (n sum c) = (0 - 1 + 1 + 6) / 16
    assert exposure_gini(recs, 4, k=2) == pytest.approx(0.375)
    assert exposure_gini(np.array([[0, 1], [2, 3]]), 4, k=2) == pytest.approx(0.0)  # everyone shown once


def test_brand_exposure_against_purchase_share_by_hand():
    recs = np.array([[0, 1, 9], [0, 2, 9]])
    brand = np.array([0, 0, 1, -1] + [-1] * 6)  # items 0, 1: brand 0; item 2: brand 1; the rest none
    shares = brand_exposure(recs, brand, bought=np.array([2, 2, 0, 3]), k=2)
    # slots show brands 0, 0, 0, 1; purchases of branded items: brand 1 twice, brand 0 once
    assert shares["exposure"].tolist() == pytest.approx([0.75, 0.25])
    assert shares["purchase"].tolist() == pytest.approx([1 / 3, 2 / 3])
    assert brand_gap(shares) == pytest.approx(0.5 * (0.75 - 1 / 3 + 2 / 3 - 0.25))
    assert np.isnan(brand_gap(brand_exposure(recs, np.full(10, -1), np.array([0]), k=2)))


def test_ndcg_by_activity_tertiles_by_hand():
    activity = np.array([5, 1, 3, 1, 9, 2])
    # sorted stably: rows 1, 3 (1 event), 5 (2), 2 (3), 0 (5), 4 (9): two rows per third
    assert activity_groups(activity).tolist() == [2, 0, 1, 0, 2, 1]
    recs = np.array([[7, 8], [7, 8], [8, 7], [7, 8], [1, 2], [1, 2]])
    truth = [np.array([7]), np.array([8]), np.array([7]), np.array([5]), np.array([1]), np.array([3])]
    # NDCG@2 per row: 1, 1/log2(3), 1/log2(3), 0, 1, 0
    table = ndcg_by_activity(recs, truth, activity, k=2)
    third = 1 / np.log2(3)
    assert table.index.tolist() == ["low", "mid", "high"]
    assert table["ndcg@2"].tolist() == pytest.approx([third / 2, third / 2, 1.0])
    assert table["users"].tolist() == [2, 2, 2]
    assert table[["min_events", "max_events"]].values.tolist() == [[1, 1], [2, 3], [5, 9]]


def test_the_evaluation_report_has_the_fairness_metrics(tmp_path, small_shop):
    engine = Engine(Settings(home=tmp_path / "home", impressions={"enabled": False}))
    engine.ingest(small_shop.events)
    engine.upsert_items(small_shop.items)
    frame = engine.evaluate(["popular", "itemknn"], report_dir=tmp_path / "report")
    fair = frame.attrs["fairness"]
    assert fair.index.tolist() == ["popular", "itemknn"]
    assert list(fair.columns) == ["exposure_gini@10", "brand_gap@10", "ndcg@10_low", "ndcg@10_mid",
                                  "ndcg@10_high"]
    # one list for everyone (minus what each has seen) concentrates exposure far more than item-kNN
    assert fair.loc["popular", "exposure_gini@10"] > fair.loc["itemknn", "exposure_gini@10"] > 0
    assert fair["brand_gap@10"].between(0, 1).all()  # the synthetic catalogue has brands
    # the three tertiles' NDCG average back to the whole (equal-sized groups, up to one row)
    mean = fair.loc["itemknn", ["ndcg@10_low", "ndcg@10_mid", "ndcg@10_high"]].mean()
    assert mean == pytest.approx(frame.loc["itemknn", "ndcg@10"], abs=0.01)
    assert "## Fairness" in (tmp_path / "report" / "report.md").read_text()
    assert (tmp_path / "report" / "fairness.csv").exists()
    engine.close()
