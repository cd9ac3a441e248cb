"""Per-variant means with normal-approximation confidence intervals, for the shopper as the
unit of randomisation.

- a per-shopper metric (converted 0/1, revenue): the mean of (n,) values and its standard
  error s / sqrt(n);
- a ratio of sums (CTR = clicks / impressions over the variant's shoppers): the delta method
  (Deng, Knoblich and Lu, KDD 2018), since a shopper's impressions are not independent:
  var(R) ~= (var(Y) - 2 R cov(Y, X) + R^2 var(X)) / (n mean(X)^2), Y clicks and X impressions
  per shopper;
- a difference of two variants' means: Welch's standard error sqrt(se_a^2 + se_b^2).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm


def z(confidence: float) -> float:
    return float(norm.ppf(0.5 + confidence / 2))


def mean_se(x: np.ndarray) -> tuple[float, float]:
    """(mean, standard error) of (n,) values; (nan, nan) for n = 0, se nan for n = 1."""
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0:
        return float("nan"), float("nan")
    se = float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")
    return float(x.mean()), se


def ratio_se(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """(sum(y) / sum(x), delta-method standard error) over (n,) per-shopper sums."""
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    n = len(x)
    if n == 0 or x.sum() == 0:
        return float("nan"), float("nan")
    r = float(y.sum() / x.sum())
    if n < 2:
        return r, float("nan")
    mx = x.mean()
    cov = np.cov(y, x, ddof=1)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / (n * mx * mx)
    return r, float(np.sqrt(max(var, 0.0)))


def interval(value: float, se: float, confidence: float) -> dict:
    """{value, ci: [lo, hi], se} (ci None where se is unknown)."""
    ok = np.isfinite(value) and np.isfinite(se)
    half = z(confidence) * se if ok else None
    return {"value": _num(value), "se": _num(se),
            "ci": [float(value - half), float(value + half)] if ok else None}


def difference(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """(b - a, Welch standard error) from two (mean, se) pairs."""
    return b[0] - a[0], float(np.hypot(a[1], b[1]))


def _num(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None
