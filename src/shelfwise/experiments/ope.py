"""Off-policy evaluation: what a new policy's click and purchase rates would have been, read
from a log of what another (stochastic) policy showed, with the probability it showed it.

The logged data (``BanditLog``) are n decisions of one slot (the exploration slot): in context
x_i the logging policy took action a_i (a category, and so the item shown for it) with
propensity p_i = pi_0(a_i | x_i) > 0 and got reward r_i (clicked, purchased). A target policy
is given as its action distribution pi(a | x_i), shape (n, K). Estimators of its value
V(pi) = E_x[sum_a pi(a | x) E[r | x, a]] (Dudik et al., ICML 2011; Swaminathan & Joachims,
NIPS 2015), with w_i = pi(a_i | x_i) / p_i:

- **IPS**: mean_i(w_i r_i); unbiased when p_i > 0 wherever pi puts mass.
- **SNIPS**: sum_i(w_i r_i) / sum_i(w_i); slightly biased, much lower variance.
- **DR**: mean_i(sum_a pi(a | x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i))) with a reward model q
  (``fit_reward_model``: logistic regression, cross-fitted so no row is scored by a model
  that saw it); unbiased if either the propensities or q are right.

Confidence intervals are normal (CLT) intervals from the per-row terms (SNIPS: the delta
method); Open Bandit Pipeline's estimators give the same point values on the same inputs
(``tests/experiments/test_ope.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.stats import norm

ESTIMATORS = ("ips", "snips", "dr")


@dataclass(frozen=True)
class BanditLog:
    """n logged decisions over K actions. Truth fields are filled only by a simulator."""

    users: np.ndarray  # (n,) int64 shopper index
    actions: np.ndarray  # (n,) int64 action taken, in [0, K)
    propensities: np.ndarray  # (n,) float64 pi_0(a_i | x_i)
    rewards: dict[str, np.ndarray]  # name -> (n,) float64, e.g. "click", "purchase"
    features: np.ndarray  # (n, K, d) float32 features of each (context, action) pair
    allowed: np.ndarray  # (n, K) bool actions available in the context
    action_names: tuple = ()
    logging_dist: np.ndarray | None = None  # (n, K) pi_0(. | x_i), where the logger kept it
    truth: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (n, K) E[r | x_i, a]
    items: np.ndarray | None = None  # (n,) the item shown, where known

    def __post_init__(self):
        n = len(self.actions)
        if np.any(~np.isfinite(self.propensities)) or np.any(self.propensities <= 0) \
                or np.any(self.propensities > 1):
            raise ValueError("propensities must be in (0, 1]")
        for name, r in self.rewards.items():
            if len(r) != n:
                raise ValueError(f"reward {name!r} has {len(r)} rows, not {n}")

    @property
    def n(self) -> int:
        return len(self.actions)

    @property
    def n_actions(self) -> int:
        return self.allowed.shape[1]

    def subset(self, rows) -> BanditLog:
        """The log restricted to ``rows`` (a mask or indices)."""
        def cut(d):
            return {k: v[rows] for k, v in d.items()}
        return replace(self, users=self.users[rows], actions=self.actions[rows],
                       propensities=self.propensities[rows], rewards=cut(self.rewards),
                       features=self.features[rows], allowed=self.allowed[rows],
                       logging_dist=None if self.logging_dist is None else self.logging_dist[rows],
                       truth=cut(self.truth), items=None if self.items is None else self.items[rows])


@dataclass(frozen=True)
class Estimate:
    estimator: str
    value: float
    se: float
    low: float
    high: float
    n: int


def _check(target: np.ndarray, log: BanditLog) -> np.ndarray:
    target = np.asarray(target, dtype=np.float64)
    if target.shape != (log.n, log.n_actions):
        raise ValueError(f"target must have shape {(log.n, log.n_actions)}. Got {target.shape} instead.")
    if np.any(target < 0) or not np.allclose(target.sum(1), 1.0, atol=1e-6):
        raise ValueError("target rows must be probability distributions")
    return target


def _interval(name: str, terms: np.ndarray, value: float, level: float) -> Estimate:
    n = len(terms)
    se = float(terms.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    z = norm.ppf(0.5 + level / 2)
    return Estimate(name, float(value), se, float(value - z * se), float(value + z * se), n)


def weights(log: BanditLog, target: np.ndarray) -> np.ndarray:
    """(n,) importance weights pi(a_i | x_i) / p_i."""
    target = _check(target, log)
    return target[np.arange(log.n), log.actions] / log.propensities


def ips(log: BanditLog, target: np.ndarray, reward: str = "click", level: float = 0.95) -> Estimate:
    terms = weights(log, target) * log.rewards[reward]
    return _interval("ips", terms, terms.mean(), level)


def snips(log: BanditLog, target: np.ndarray, reward: str = "click", level: float = 0.95) -> Estimate:
    w = weights(log, target)
    r = log.rewards[reward]
    value = float((w * r).sum() / w.sum()) if w.sum() > 0 else 0.0
    # delta method: the ratio's influence terms are w (r - V) / mean(w)
    terms = w * (r - value) / max(w.mean(), 1e-12)
    return _interval("snips", terms, value, level)


def dr(log: BanditLog, target: np.ndarray, q_hat: np.ndarray, reward: str = "click",
       level: float = 0.95) -> Estimate:
    """q_hat: (n, K) estimated E[reward | x_i, a]."""
    target = _check(target, log)
    rows = np.arange(log.n)
    w = target[rows, log.actions] / log.propensities
    direct = (target * q_hat).sum(1)
    terms = direct + w * (log.rewards[reward] - q_hat[rows, log.actions])
    return _interval("dr", terms, terms.mean(), level)


def fit_reward_model(log: BanditLog, reward: str = "click", folds: int = 2, seed: int = 0,
                     c: float = 1.0) -> np.ndarray:
    """(n, K) cross-fitted estimates of E[reward | x_i, a] from a logistic regression on the
    (context, action) features of the logged actions. Each fold's rows are scored by a model
    fitted on the other folds, so the model's errors are independent of the row's own reward.
    A fold whose training rows hold one class only predicts that class's rate."""
    from sklearn.linear_model import LogisticRegression

    y = log.rewards[reward] > 0
    x_taken = log.features[np.arange(log.n), log.actions]  # (n, d)
    fold = np.random.default_rng(seed).integers(0, max(folds, 1), log.n) if folds > 1 else np.zeros(log.n, int)
    q = np.zeros((log.n, log.n_actions))
    for f in np.unique(fold):
        train = fold != f if folds > 1 else np.ones(log.n, bool)
        score = fold == f
        if y[train].all() or not y[train].any():
            q[score] = float(y[train].mean()) if train.any() else 0.0
            continue
        model = LogisticRegression(C=c, max_iter=500).fit(x_taken[train], y[train])
        feats = log.features[score].reshape(-1, log.features.shape[2])
        q[score] = model.predict_proba(feats)[:, 1].reshape(score.sum(), log.n_actions)
    return q


def evaluate(log: BanditLog, target: np.ndarray, rewards=("click", "purchase"), level: float = 0.95,
             q_hats: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """One row per (reward, estimator): value, se, low, high, n, plus ``truth`` (the target's
    expected reward on the logged contexts) when the log comes from the simulator, and
    ``unsupported``: the target's mass on actions the logger could not take (p = 0), which
    no importance weight can see."""
    target = _check(target, log)
    rows = []
    unsupported = (float((target * (log.logging_dist <= 0)).sum(1).mean())
                   if log.logging_dist is not None else float("nan"))
    for name in rewards:
        q = (q_hats or {}).get(name)
        if q is None:
            q = fit_reward_model(log, name)
        truth = float((target * log.truth[name]).sum(1).mean()) if name in log.truth else float("nan")
        for est in (ips(log, target, name, level), snips(log, target, name, level),
                    dr(log, target, q, name, level)):
            rows.append({"reward": name, **est.__dict__, "truth": truth, "unsupported": unsupported})
    return pd.DataFrame(rows)
