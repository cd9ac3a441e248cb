"""An experiment's statistics from its impression log and its shoppers' events.

Who is in a variant: the shoppers the impression log shows served in it (anonymous sessions
are left out: no shopper to follow). Per shopper, from the experiment's start (``created_at``)
to its stop:

- impressions: items shown in the experiment's lists; clicks: shown items followed by an event
  on that item carrying the list's ``recommendation_id``; CTR = clicks / impressions (a ratio
  over shoppers: delta method);
- converted: 1 if the shopper bought anything, else 0; revenue: the sum of their purchases'
  ``value`` (a purchase without a value counts 0);
- the same two over the pre-period (``pre_days`` before the start) are CUPED's covariates.

A/B: per variant the three metrics with confidence intervals, CUPED-adjusted conversion and
revenue; per variant after the first (the control) the difference from the control with its
fixed-horizon interval and the anytime-valid test (``sequential``); the sample-ratio check
(``srm``) over the shoppers per variant. Interleaving: per list, the team its clicks credit
more, and the preference test (``interleaving.preference``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shelfwise.data.schemas import context_dict
from shelfwise.experiments import cuped, interleaving, metrics, sequential, srm
from shelfwise.experiments.assignment import Experiment

DAY = 86400.0


def clicked(shown: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """(len(shown),) bool: an event on the row's item carries the row's recommendation id."""
    if len(shown) == 0 or len(events) == 0:
        return np.zeros(len(shown), bool)
    rids = events["context"].map(lambda c: context_dict(c).get("recommendation_id"))
    followed = set(zip(rids.astype(str), events["item_id"].astype(str), strict=True))
    return np.array([(r, i) in followed for r, i in zip(shown["recommendation_id"], shown["item_id"], strict=True)],
                    dtype=bool)


def shopper_frame(experiment: Experiment, shown: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """One row per shopper: variant, impressions, clicks, converted, revenue, pre_converted,
    pre_revenue. ``shown``: the experiment's impression rows; ``events``: its shoppers' events
    from the pre-period on."""
    shown = shown[shown["user_id"] != ""]
    start = experiment.created_at
    end = experiment.stopped_at if experiment.stopped_at is not None else np.inf
    shown = shown.assign(clicked=clicked(shown, events))
    per = shown.groupby("user_id").agg(variant=("variant", "first"), impressions=("item_id", "size"),
                                       clicks=("clicked", "sum"))
    buys = events[events["event_type"] == "purchase"].assign(value=lambda f: f["value"].fillna(0.0))
    during = buys[(buys["timestamp"] >= start) & (buys["timestamp"] < end)].groupby("user_id")["value"]
    before = buys[buys["timestamp"] < start].groupby("user_id")["value"]
    per["converted"] = per.index.isin(during.groups.keys()).astype(np.float64)
    per["revenue"] = during.sum().reindex(per.index, fill_value=0.0).astype(np.float64)
    per["pre_converted"] = per.index.isin(before.groups.keys()).astype(np.float64)
    per["pre_revenue"] = before.sum().reindex(per.index, fill_value=0.0).astype(np.float64)
    return per


def ab_report(experiment: Experiment, per: pd.DataFrame, confidence: float = 0.95) -> dict:
    """{variants: [...], comparisons: [...], srm: {...}} from ``shopper_frame``."""
    alpha = 1.0 - confidence
    names = [v.name for v in experiment.variants]
    adjusted, thetas = {}, {}
    for metric in ("converted", "revenue"):
        adjusted[metric], thetas[metric] = cuped.adjust(per[metric].to_numpy(), per[f"pre_{metric}"].to_numpy())
    groups = {name: per["variant"].to_numpy() == name for name in names}
    rows, summaries = [], {}
    for variant in experiment.variants:
        name = variant.name
        g = per[groups[name]]
        ctr = metrics.ratio_se(g["clicks"].to_numpy(), g["impressions"].to_numpy())
        row = {"name": name, "share": variant.share, "options": variant.options, "shoppers": len(g),
               "impressions": int(g["impressions"].sum()),
               "clicks": int(g["clicks"].sum()), "ctr": metrics.interval(*ctr, confidence)}
        summaries[name] = {"ctr": ctr}
        for metric, label in (("converted", "conversion_rate"), ("revenue", "revenue_per_shopper")):
            raw = metrics.mean_se(g[metric].to_numpy())
            adj = metrics.mean_se(adjusted[metric][groups[name]])
            row[label] = {**metrics.interval(*raw, confidence), "cuped": metrics.interval(*adj, confidence)}
            summaries[name][label] = adj
        rows.append(row)
    comparisons = []
    control = names[0]
    for name in names[1:]:
        n = int(groups[control].sum() + groups[name].sum())
        out = {"variant": name, "control": control}
        for label in ("ctr", "conversion_rate", "revenue_per_shopper"):
            d, se = metrics.difference(summaries[control][label], summaries[name][label])
            out[label] = {**metrics.interval(d, se, confidence), "sequential": sequential.test(n, d, se, alpha)}
        comparisons.append(out)
    reduction = {label: cuped.variance_reduction(per[metric].to_numpy(), adjusted[metric])
                 for metric, label in (("converted", "conversion_rate"), ("revenue", "revenue_per_shopper"))}
    return {"variants": rows, "comparisons": comparisons,
            "cuped": {"theta": {"conversion_rate": thetas["converted"], "revenue_per_shopper": thetas["revenue"]},
                      "variance_reduction": reduction, "pre_days": experiment.pre_days},
            "srm": srm.check([int(groups[n].sum()) for n in names], [v.share for v in experiment.variants])}


def interleave_report(experiment: Experiment, shown: pd.DataFrame, events: pd.DataFrame,
                      confidence: float = 0.95) -> dict:
    """{lists, shoppers, per-team impressions and clicks, preference} of an interleaving
    experiment: wins count lists whose clicks credit the first variant more."""
    a, b = (v.name for v in experiment.variants)
    shown = shown.assign(clicked=clicked(shown, events))
    wins = losses = ties = 0
    for _, rows in shown.groupby("recommendation_id", sort=False):
        teams = np.where(rows["variant"].to_numpy() == a, interleaving.A, interleaving.B)
        result = interleaving.outcome(teams, rows["clicked"].to_numpy())
        wins, losses, ties = wins + (result > 0), losses + (result < 0), ties + (result == 0)
    team = {name: {"impressions": int((shown["variant"] == name).sum()),
                   "clicks": int(shown.loc[shown["variant"] == name, "clicked"].sum())} for name in (a, b)}
    pref = interleaving.preference(wins, losses, ties)
    winner = None
    if pref["p_value"] is not None and pref["p_value"] < 1.0 - confidence:
        winner = a if pref["delta"] > 0 else b
    return {"lists": int(shown["recommendation_id"].nunique()),
            "shoppers": int(shown.loc[shown["user_id"] != "", "user_id"].nunique()),
            "teams": team, "preference": {**pref, "for": a, "against": b, "winner": winner}}
