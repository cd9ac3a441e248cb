"""Known answers for the statistics, by simulation (vectorised numpy: thousands of simulated
experiments in seconds): the anytime-valid test keeps its false-positive rate under alpha
when read after every 50 shoppers, where a fixed-horizon test read the same way does not, and
detects a planted lift; the SRM check flags a planted 45/55 split and not a fair one; CUPED
removes corr^2 of the variance without moving the difference; delta-method CTR intervals
cover the true CTR at their nominal rate."""

from __future__ import annotations

import numpy as np
import pytest

from shelfwise.experiments import cuped, metrics, sequential, srm
from shelfwise.experiments.assignment import Experiment, Variant

ALPHA = 0.05
SIMS, PER_ARM, STEP = 2000, 5000, 50


def _monitored(rng, p_a: float, p_b: float):
    """(anytime-valid rejections, fixed-horizon rejections) of SIMS two-arm conversion
    experiments, each read after every STEP shoppers per arm up to PER_ARM: rejected if any
    read rejects."""
    looks = np.arange(STEP, PER_ARM + 1, STEP)
    ca = np.cumsum(rng.random((SIMS, PER_ARM), dtype=np.float32) < p_a, axis=1, dtype=np.int32)[:, looks - 1]
    cb = np.cumsum(rng.random((SIMS, PER_ARM), dtype=np.float32) < p_b, axis=1, dtype=np.int32)[:, looks - 1]
    ma, mb = ca / looks, cb / looks
    se = np.sqrt(ma * (1 - ma) / looks + mb * (1 - mb) / looks)
    d = mb - ma
    ok = se > 0
    p = np.where(ok, sequential.p_value(2 * looks, d, np.where(ok, se, 1.0), ALPHA), 1.0)
    half = np.where(ok, sequential.half_width(2 * looks, np.where(ok, se, 1.0), ALPHA), np.inf)
    anytime = (p < ALPHA).any(axis=1)
    assert np.array_equal(anytime, (np.abs(d) > half).any(axis=1))  # p < alpha exactly when 0 leaves the CS
    fixed = (ok & (np.abs(d) > 1.96 * np.where(ok, se, 1.0))).any(axis=1)
    return anytime.mean(), fixed.mean()


def test_anytime_valid_test_keeps_its_false_positive_rate_over_many_aa_tests():
    anytime, peeking = _monitored(np.random.default_rng(0), 0.1, 0.1)
    assert anytime <= ALPHA  # 100 reads each, and still under the nominal level
    assert peeking > 3 * ALPHA  # the fixed-horizon interval read as often is far over it


def test_anytime_valid_test_detects_a_planted_difference():
    power, _ = _monitored(np.random.default_rng(1), 0.10, 0.13)
    assert power > 0.9


def test_one_read_matches_the_arrays():
    out = sequential.test(10_000, 0.03, 0.006, ALPHA)
    assert out["significant"] and out["p_value"] < ALPHA
    lo, hi = out["ci"]
    assert lo < 0.03 < hi and (hi - lo) / 2 == pytest.approx(float(sequential.half_width(10_000, 0.006, ALPHA)))
    assert sequential.test(1, 0.0, 0.0)["ci"] is None


def test_srm_flags_a_planted_45_55_split_and_not_a_fair_one():
    rng = np.random.default_rng(2)
    n = 10_000
    assert srm.check([int(0.45 * n), int(0.55 * n)], [0.5, 0.5])["flagged"]
    broken = rng.binomial(n, 0.45, size=200)
    assert all(srm.check([b, n - b], [0.5, 0.5])["flagged"] for b in broken)
    fair = rng.binomial(n, 0.5, size=2000)
    false_alarms = np.mean([srm.check([f, n - f], [0.5, 0.5])["flagged"] for f in fair])
    assert false_alarms < 0.01  # at THRESHOLD 0.001
    # the hash split itself is fair
    e = Experiment("e", "e", "ab", (Variant("a", 0.5), Variant("b", 0.5)), "5a" * 16)
    names = [e.variant_of(f"U{k}").name for k in range(n)]
    assert not srm.check([names.count("a"), names.count("b")], [0.5, 0.5])["flagged"]


def test_cuped_removes_the_correlated_variance_and_keeps_the_difference():
    rng = np.random.default_rng(3)
    sims, n, rho, lift = 400, 2000, 0.7, 0.1
    raw, adjusted = [], []
    for _ in range(sims):
        x = rng.normal(size=2 * n)
        y = rho * x + np.sqrt(1 - rho ** 2) * rng.normal(size=2 * n)
        y[n:] += lift
        adj, theta = cuped.adjust(y, x)
        assert theta == pytest.approx(rho, abs=0.1)
        raw.append(y[n:].mean() - y[:n].mean())
        adjusted.append(adj[n:].mean() - adj[:n].mean())
    assert np.mean(adjusted) == pytest.approx(lift, abs=0.01)  # unbiased
    assert np.var(adjusted) / np.var(raw) == pytest.approx(1 - rho ** 2, rel=0.2)
    y = rng.normal(size=1000)
    assert cuped.variance_reduction(y, cuped.adjust(y, np.zeros(1000))[0]) == pytest.approx(0.0)


def test_delta_method_ctr_interval_covers_the_truth_at_its_nominal_rate():
    rng = np.random.default_rng(4)
    true_ctr, covered, sims = 0.05, 0, 1000
    for _ in range(sims):
        shown = rng.integers(1, 40, size=500)  # lists per shopper differ
        taste = rng.beta(1, 19, size=500)  # shoppers differ: clicks of one shopper are correlated
        clicks = rng.binomial(shown, taste)
        lo, hi = metrics.interval(*metrics.ratio_se(clicks, shown), 0.95)["ci"]
        covered += lo <= true_ctr <= hi
    assert 0.92 <= covered / sims <= 0.98
