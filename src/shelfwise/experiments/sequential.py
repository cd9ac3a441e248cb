"""An anytime-valid test of a difference of means: the normal-mixture sequential probability
ratio test (mSPRT; Robbins 1970, Johari, Pekelis and Walsh 2017) and its confidence sequence
(the asymptotic confidence sequence of Waudby-Smith, Arnold, Wu, Howard and Ramdas, as
GrowthBook computes it).

With N shoppers in the two variants, a difference estimate d with standard error se and
sigma^2 = N se^2, the mixture's likelihood ratio against "no difference" is

    Lambda_N = (N rho^2 + 1) ** -1/2 * exp(N rho^2 d^2 / (2 se^2 (N rho^2 + 1)))

and the confidence sequence is d +/- sigma * sqrt(2 (N rho^2 + 1) / (N^2 rho^2) *
log(sqrt(N rho^2 + 1) / alpha)). Both hold at every N at once: the result may be read after
each new shopper, and stopping the first time 0 is outside the sequence keeps the chance of a
false positive at most alpha. The always-valid p-value is min(1, 1 / Lambda_N). ``rho`` is
the mixture's spread, chosen so the sequence is tightest at ``n_star`` shoppers.
"""

from __future__ import annotations

import numpy as np

N_STAR = 5000  # GrowthBook's default: the sequence is tightest at this many shoppers


def rho(alpha: float, n_star: float = N_STAR) -> float:
    a = -2.0 * np.log(alpha)
    return float(np.sqrt((a + np.log(a + 1.0)) / n_star))


def half_width(n, se, alpha: float, n_star: float = N_STAR):
    """Half-width of the (1 - alpha) confidence sequence at n shoppers; arrays broadcast."""
    r2 = rho(alpha, n_star) ** 2
    n = np.asarray(n, dtype=np.float64)
    sigma = np.sqrt(n) * np.asarray(se, dtype=np.float64)
    return sigma * np.sqrt(2.0 * (n * r2 + 1.0) / (n * n * r2) * np.log(np.sqrt(n * r2 + 1.0) / alpha))


def p_value(n, d, se, alpha: float = 0.05, n_star: float = N_STAR):
    """min(1, 1 / Lambda_n): reject at level alpha exactly when 0 is outside the sequence."""
    r2 = rho(alpha, n_star) ** 2
    n, d, se = (np.asarray(v, dtype=np.float64) for v in (n, d, se))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_lr = -0.5 * np.log(n * r2 + 1.0) + n * r2 * d * d / (2.0 * se * se * (n * r2 + 1.0))
        return np.minimum(1.0, np.exp(-log_lr))


def test(n: int, d: float, se: float, alpha: float = 0.05, n_star: float = N_STAR) -> dict:
    """{ci (the confidence sequence now), p_value (always valid), significant} for one read."""
    if not (n > 1 and np.isfinite(d) and np.isfinite(se) and se > 0):
        return {"ci": None, "p_value": None, "significant": False}
    half = float(half_width(n, se, alpha, n_star))
    p = float(p_value(n, d, se, alpha, n_star))
    return {"ci": [d - half, d + half], "p_value": p, "significant": bool(abs(d) > half)}
