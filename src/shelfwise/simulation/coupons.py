"""Coupons in the synthetic shop: shoppers answer a coupon by a known rule that differs by
segment, so the true uplift of every shopper is known.

The rule (``CouponRule``) gives each taste group of ``generate_shop(taste_groups=G)`` a
probability of buying in the campaign window without the coupon and with it:

    group 0  "sure things"    buy anyway:             0.30 without, 0.32 with
    group 1  "persuadables"   buy mostly with one:    0.04 without, 0.30 with
    group 2  "lost causes"    hardly ever buy:        0.02 without, 0.03 with
    group 3  "sleeping dogs"  put off by a coupon:    0.15 without, 0.08 with

(groups beyond 3 repeat the pattern, group g acting as g mod 4). Targeting by propensity
(who buys) favours sure things, whose coupon is wasted; targeting by uplift (who buys
because of the coupon) finds the persuadables. ``true_uplift`` is p_with - p_without.

    rule = CouponRule()
    treated = rng.random(n) < 0.5                    # a randomised campaign
    bought = rule.respond(groups, treated, rng)      # (n,) bool
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_RATES = ((0.30, 0.32), (0.04, 0.30), (0.02, 0.03), (0.15, 0.08))
NAMES = ("sure things", "persuadables", "lost causes", "sleeping dogs")


@dataclass(frozen=True)
class CouponRule:
    """rates[g] = (P(buy | no coupon), P(buy | coupon)) of group g (used as g mod len(rates))."""

    rates: tuple[tuple[float, float], ...] = DEFAULT_RATES

    def __post_init__(self):
        for g, pair in enumerate(self.rates):
            if len(pair) != 2 or not all(0.0 <= p <= 1.0 for p in pair):
                raise ValueError(f"rates[{g}] must be two probabilities in [0, 1]. Got {pair!r} instead.")

    def probabilities(self, groups, treated) -> np.ndarray:
        """(n,) P(buy) of each shopper given their group and whether they got a coupon."""
        table = np.asarray(self.rates, dtype=np.float64)  # (R, 2)
        g = np.asarray(groups, dtype=np.int64) % len(table)
        return table[g, np.asarray(treated, dtype=np.int64)]

    def true_uplift(self, groups) -> np.ndarray:
        """(n,) P(buy | coupon) - P(buy | none) of each shopper."""
        n = len(np.asarray(groups))
        return self.probabilities(groups, np.ones(n, bool)) - self.probabilities(groups, np.zeros(n, bool))

    def respond(self, groups, treated, rng: np.random.Generator) -> np.ndarray:
        """(n,) bool: who buys in the campaign window."""
        return rng.random(len(np.asarray(groups))) < self.probabilities(groups, treated)


def taste_groups(users: pd.DataFrame) -> pd.Series:
    """The planted group of each shopper of ``generate_shop(taste_groups=G)``: index user_id."""
    return pd.Series([a["taste_group"] for a in users["attributes"]], index=users["user_id"].astype(str),
                     name="taste_group")


def campaign_log(users: pd.Index, groups: pd.Series, rule: CouponRule, treat_share: float = 0.5,
                 seed: int = 0) -> pd.DataFrame:
    """A randomised coupon campaign over ``users``: columns treated, bought, true_uplift
    (index user_id); each shopper treated with probability ``treat_share``."""
    rng = np.random.default_rng(seed)
    g = groups.reindex(users).to_numpy()
    treated = rng.random(len(users)) < treat_share
    return pd.DataFrame({"treated": treated, "bought": rule.respond(g, treated, rng),
                         "true_uplift": rule.true_uplift(g)}, index=users)
