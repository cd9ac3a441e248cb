"""Campaigns: an audience, a budget of N shoppers, a random control share; then the incremental
conversions and revenue of the treated against the control, with confidence intervals.

Planning: the audience (a segment, an affinity audience for items / a brand / a category, the
top of a propensity model, or a rule over portrait features) is ranked, its first ``budget``
shoppers taken, and a seeded random ``control_share`` of them held out as the control; the
rest are the treatment (the shop sends them the offer: ``GET /campaigns/{id}/audience.csv``).

Evaluation, from the store's events since the campaign started (to ``days`` after it, when
set): a member converts with a purchase (of the target's items, when the audience was built
for items, a brand or a category; of anything otherwise). Per arm: shoppers n, converters,
rate p, revenue per shopper r (``profiles.aggregates.spend_of``). The lift is p_T - p_C with a
normal-approximation interval, SE = sqrt(p_T (1 - p_T) / n_T + p_C (1 - p_C) / n_C); the
incremental conversions are lift * n_T (same interval scaled); revenue alike with Welch's SE
of the two means. Because the control is a random draw from the same audience, the
difference estimates what the offer caused among the treated.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

from shelfwise.profiles.aggregates import DAY, CatalogueIndex, spend_of

OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal}


def split_arms(ranked: list[str], budget: int, control_share: float, seed: int) -> list[tuple[str, str, int]]:
    """(user_id, arm, rank) for the first ``budget`` of ``ranked``: a seeded random
    ``control_share`` of them in "control", the rest in "treatment"."""
    chosen = ranked[:budget]
    n_control = round(control_share * len(chosen))
    control = set(np.random.default_rng(seed).choice(len(chosen), n_control, replace=False).tolist())
    return [(u, "control" if k in control else "treatment", k + 1) for k, u in enumerate(chosen)]


def rule_audience(features: pd.DataFrame, conditions: list[list]) -> list[str]:
    """Shoppers whose portrait features meet every [feature, op, value] (ops < <= > >= ==),
    most active first. Raises ValueError naming the condition."""
    keep = np.ones(len(features), dtype=bool)
    for k, cond in enumerate(conditions):
        if not isinstance(cond, list | tuple) or len(cond) != 3:
            raise ValueError(f"audience.rule[{k}]: a condition is [feature, op, value], got {cond!r}")
        name, op, value = cond
        if name not in features.columns:
            raise ValueError(f"audience.rule[{k}]: unknown feature {name!r}; known: {', '.join(features.columns)}")
        if op not in OPS or isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"audience.rule[{k}]: op must be one of {', '.join(OPS)} and value a number")
        keep &= OPS[op](features[name].to_numpy(), float(value))
    chosen = features[keep]
    return chosen.sort_values("activity", ascending=False, kind="stable").index.astype(str).tolist()


def _interval(diff: float, se: float, level: float) -> list[float]:
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return [diff - z * se, diff + z * se]


def evaluate(members: pd.DataFrame, events: pd.DataFrame, catalogue: CatalogueIndex, start: float,
             days: float | None = None, items: set[str] | None = None, level: float = 0.95) -> dict:
    """The campaign's result (see the module docstring). members: user_id, arm; events: the
    store's events since ``start`` (user_id, item_id, event_type, timestamp, value, context)."""
    end = start + days * DAY if days else math.inf
    buys = events[(events["event_type"] == "purchase") & (events["timestamp"] >= start)
                  & (events["timestamp"] < end) & events["user_id"].isin(members["user_id"])]
    if items is not None:
        buys = buys[buys["item_id"].isin(items)]
    spend = pd.Series([spend_of(i, v, c, catalogue) for i, v, c in
                       zip(buys["item_id"], buys.get("value", [None] * len(buys)),
                           buys.get("context", [None] * len(buys)), strict=True)], index=buys.index, dtype=float)
    per_user = spend.groupby(buys["user_id"]).sum()
    arms = {}
    for arm in ("treatment", "control"):
        ids = members.loc[members["arm"] == arm, "user_id"]
        revenue = per_user.reindex(ids).fillna(0.0).to_numpy()
        converted = np.isin(ids.to_numpy(), per_user.index.to_numpy())
        arms[arm] = {"shoppers": len(ids), "converters": int(converted.sum()),
                     "rate": float(converted.mean()) if len(ids) else 0.0,
                     "revenue": float(revenue.sum()), "revenue_per_shopper": float(revenue.mean()) if len(ids) else 0.0,
                     "_var": float(revenue.var(ddof=1)) if len(ids) > 1 else 0.0}
    t, c = arms["treatment"], arms["control"]
    out = {"window": {"start": start, "end": None if end == math.inf else end},
           "arms": {k: {m: v for m, v in a.items() if not m.startswith("_")} for k, a in arms.items()},
           "confidence": level}
    if t["shoppers"] and c["shoppers"]:
        lift = t["rate"] - c["rate"]
        se = math.sqrt(t["rate"] * (1 - t["rate"]) / t["shoppers"] + c["rate"] * (1 - c["rate"]) / c["shoppers"])
        rev = t["revenue_per_shopper"] - c["revenue_per_shopper"]
        rev_se = math.sqrt(t["_var"] / t["shoppers"] + c["_var"] / c["shoppers"])
        n = t["shoppers"]
        out.update({
            "lift": lift, "lift_ci": _interval(lift, se, level),
            "incremental_conversions": lift * n,
            "incremental_conversions_ci": [x * n for x in _interval(lift, se, level)],
            "revenue_lift_per_shopper": rev, "revenue_lift_per_shopper_ci": _interval(rev, rev_se, level),
            "incremental_revenue": rev * n, "incremental_revenue_ci": [x * n for x in _interval(rev, rev_se, level)]})
    return out
