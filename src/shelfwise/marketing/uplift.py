"""Uplift: who buys because of the coupon, not who would buy anyway.

Both learners are built on LightGBM and fitted on a campaign log of randomly treated and
control shoppers: X (n, f) portrait features, treated (n,) bool, y (n,) bool bought.

- ``TwoModelUplift`` (the T-learner): mu1 on the treated, mu0 on the controls;
  uplift(x) = mu1(x) - mu0(x).
- ``XLearnerUplift`` (Kunzel et al., PNAS 2019): mu0, mu1 as above; imputed effects
  D1 = y - mu0(x) on the treated and D0 = mu1(x) - y on the controls; regressors tau1 on
  D1 and tau0 on D0; uplift(x) = e * tau0(x) + (1 - e) * tau1(x), e the treated share (the
  propensity of treatment, constant in a randomised campaign).

``qini_curve`` / ``qini_coefficient`` score a targeting order on a log with a random control:
Q(phi) = (Y_T(phi) - Y_C(phi) * N_T(phi) / N_C(phi)) / N, the incremental buyers per shopper
when the top phi of the order is targeted; the coefficient is the area between Q and the
straight line of random targeting (0 for random, higher is better).
"""

from __future__ import annotations

import numpy as np

from shelfwise.errors import MissingExtra

PARAMS = {"learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 30, "verbose": -1, "num_threads": 1}
ROUNDS = 150


def _lgb():
    try:
        import lightgbm
    except ImportError as exc:  # pragma: no cover - the extra is part of `all`
        raise MissingExtra("uplift models", "marketing", ["lightgbm"]) from exc
    return lightgbm


def _fit(X: np.ndarray, y: np.ndarray, objective: str, seed: int):
    lgb = _lgb()
    return lgb.train({**PARAMS, "objective": objective, "seed": seed}, lgb.Dataset(X, y.astype(np.float64)),
                     num_boost_round=ROUNDS)


def _check(X, treated, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64)
    treated, y = np.asarray(treated, dtype=bool), np.asarray(y, dtype=bool)
    if not (len(X) == len(treated) == len(y)):
        raise ValueError(f"X, treated and y must have one row per shopper: {len(X)}, {len(treated)}, {len(y)}")
    if treated.all() or not treated.any():
        raise ValueError("treated: the log needs both treated and control shoppers")
    return X, treated, y


class TwoModelUplift:
    """T-learner on LightGBM classifiers."""

    def __init__(self, *, seed: int = 0):
        self.seed = seed

    def fit(self, X, treated, y) -> TwoModelUplift:
        X, t, y = _check(X, treated, y)
        self.mu1_ = _fit(X[t], y[t], "binary", self.seed)
        self.mu0_ = _fit(X[~t], y[~t], "binary", self.seed)
        return self

    def predict(self, X) -> np.ndarray:
        """(n,) estimated P(buy | coupon) - P(buy | none)."""
        X = np.asarray(X, dtype=np.float64)
        return self.mu1_.predict(X) - self.mu0_.predict(X)


class XLearnerUplift:
    """X-learner: LightGBM classifiers for the outcomes, regressors for the imputed effects."""

    def __init__(self, *, seed: int = 0):
        self.seed = seed

    def fit(self, X, treated, y) -> XLearnerUplift:
        X, t, y = _check(X, treated, y)
        mu1 = _fit(X[t], y[t], "binary", self.seed)
        mu0 = _fit(X[~t], y[~t], "binary", self.seed)
        d1 = y[t] - mu0.predict(X[t])  # (n_treated,) what the coupon added for the treated
        d0 = mu1.predict(X[~t]) - y[~t]  # (n_control,) what it would have added for the controls
        self.tau1_ = _fit(X[t], d1, "regression", self.seed)
        self.tau0_ = _fit(X[~t], d0, "regression", self.seed)
        self.share_ = float(t.mean())
        return self

    def predict(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        return self.share_ * self.tau0_.predict(X) + (1.0 - self.share_) * self.tau1_.predict(X)


def qini_curve(score, treated, y, points: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """(phi, Q(phi)) at ``points`` + 1 fractions 0..1 of the shoppers taken in descending
    ``score`` order (see the module docstring)."""
    score, t, y = np.asarray(score, float), np.asarray(treated, bool), np.asarray(y, bool)
    order = np.argsort(-score, kind="stable")
    t, y = t[order], y[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y & t), np.cumsum(y & ~t)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_c > 0, y_t - y_c * n_t / n_c, y_t) / len(y)
    cut = np.linspace(0, len(y), points + 1).round().astype(int)
    return cut / len(y), np.r_[0.0, q][cut]


def qini_coefficient(score, treated, y, points: int = 100) -> float:
    """Area between the Qini curve and random targeting's straight line (trapezoids)."""
    phi, q = qini_curve(score, treated, y, points)
    gain = q - phi * q[-1]
    return float(((gain[1:] + gain[:-1]) / 2 * np.diff(phi)).sum())


def targeted_uplift(score, true_uplift, share: float) -> float:
    """The true incremental buyers per targeted shopper when the top ``share`` by ``score``
    get the coupon (known only in a simulator)."""
    k = max(1, round(share * len(score)))
    top = np.argsort(-np.asarray(score, float), kind="stable")[:k]
    return float(np.asarray(true_uplift, float)[top].mean())
