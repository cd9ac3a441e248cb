"""CUPED (Deng, Xu, Kohavi and Walker, WSDM 2013): a metric adjusted by the same shoppers'
behaviour before the experiment, which the assignment cannot have changed.

    Y_cuped = Y - theta * (X - mean(X)),  theta = cov(Y, X) / var(X)

with Y the metric in the experiment and X its pre-period value, theta and mean(X) pooled over
every variant (so the adjustment is the same function for all and the difference of means
stays unbiased). The variance falls by the factor 1 - corr(Y, X)^2.
"""

from __future__ import annotations

import numpy as np


def theta(y: np.ndarray, x: np.ndarray) -> float:
    """cov(Y, X) / var(X) over (n,) pooled values; 0 when X does not vary."""
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return 0.0
    var = x.var(ddof=1)
    return float(np.cov(y, x, ddof=1)[0, 1] / var) if var > 0 else 0.0


def adjust(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """(adjusted (n,) values, theta) over the pooled shoppers of every variant."""
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    t = theta(y, x)
    return y - t * (x - (x.mean() if len(x) else 0.0)), t


def variance_reduction(y: np.ndarray, adjusted: np.ndarray) -> float | None:
    """1 - var(adjusted) / var(y): the share of the variance CUPED removed."""
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 2 or y.var() == 0:
        return None
    return float(1.0 - np.asarray(adjusted).var() / y.var())
