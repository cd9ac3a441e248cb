"""A shopper's portrait read from the stored aggregates (``profiles.aggregates``), and the
numeric features of every shopper's portrait at once (for segmentation and propensity).

Definitions (T = ``as_of``, the newest event in the store unless given):

- **affinity** of a category / brand: its share of the shopper's decayed behaviour weights
  (view 1, cart 3, purchase 5 ... halved every ``affinity_half_life_days``); shares sum to 1.
- **price band**: the 25th and 75th percentiles of the prices of items viewed, carted or
  bought (weighted by behaviour), read from half-octave price bins; ``price_index``: mean
  price of bought items over their category's median price (viewed items when nothing was
  bought); ``price_sensitivity`` = 1 - (bought index / viewed index): 0.5 means the shopper
  buys items half as dear, relative to their categories, as those they look at.
- **RFM**: recency = days since the last purchase, frequency = purchases, monetary = spend.
- **activity**: events, each halved every ``activity_half_life_days``: about "events in the
  last ``activity_half_life_days / ln 2`` days"; level low / medium / high by thresholds.
- **stage**: new (first seen within ``new_days`` of T), else active / lapsing / lost by the
  last event against ``active_days`` and ``lapsing_days``.
- **next category**: argmax over c of 0.5 P(c | last category) + 0.5 affinity(c), the
  transition probabilities counted over the whole shop's consecutive events.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shelfwise.config import ProfileSettings
from shelfwise.profiles.aggregates import ANCHOR, DAY, SEPARATOR

OTHER = "(other)"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def decay_now(as_of: float, half_life_days: float) -> float:
    """The factor that turns an anchored sum into weights as of ``as_of``."""
    return 1.0 if half_life_days <= 0 else 2.0 ** (-(as_of - ANCHOR) / (half_life_days * DAY))


def stage_of(first_ts: float, last_ts: float, as_of: float, s: ProfileSettings) -> str:
    if as_of - first_ts <= s.new_days * DAY:
        return "new"
    idle = as_of - last_ts
    return "active" if idle <= s.active_days * DAY else "lapsing" if idle <= s.lapsing_days * DAY else "lost"


def activity_level(activity: float, s: ProfileSettings) -> str:
    return "low" if activity < s.activity_low else "high" if activity >= s.activity_high else "medium"


def _shares(values: dict[str, float], top: int) -> list[dict[str, Any]]:
    total = sum(values.values())
    if total <= 0:
        return []
    ranked = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [{"name": k, "affinity": round(v / total, 4)} for k, v in ranked]


def _price_band(bins: dict[str, float]) -> dict[str, float] | None:
    """25th / 50th / 75th percentiles of a binned price distribution (bin b: [2^(b/2), 2^((b+1)/2)),
    linear inside a bin)."""
    if not bins:
        return None
    keys = sorted(bins, key=int)
    w = np.array([bins[k] for k in keys])
    edges = np.array([2.0 ** (int(k) / 2) for k in keys])
    cum = np.cumsum(w) / w.sum()

    def q(p: float) -> float:
        i = int(np.searchsorted(cum, p))
        below = cum[i - 1] if i else 0.0
        frac = (p - below) / max(cum[i] - below, 1e-12)
        return round(float(edges[i] * (2.0 ** 0.5) ** frac), 2)

    return {"low": q(0.25), "typical": q(0.5), "high": q(0.75)}


def next_category(last: str | None, affinities: dict[str, float], transitions: pd.DataFrame) -> str | None:
    """argmax 0.5 P(next | last) + 0.5 affinity share (see the module docstring)."""
    total = sum(affinities.values())
    score = {c: 0.5 * v / total for c, v in affinities.items()} if total > 0 else {}
    if last is not None and len(transitions):
        row = transitions[transitions["prev"] == last]
        n = float(row["count"].sum())
        for c, k in zip(row["next"], row["count"], strict=True):
            score[c] = score.get(c, 0.0) + 0.5 * float(k) / n
    return min(score, key=lambda c: (-score[c], c)) if score else None


def portrait(stats: dict, counts: pd.DataFrame, transitions: pd.DataFrame, as_of: float,
             s: ProfileSettings, top: int = 5) -> dict[str, Any]:
    """One shopper's portrait as a JSON-ready dict. stats: their ``portrait_stats`` row;
    counts: their ``portrait_counts`` rows (kind, key, value)."""
    by_kind = {k: dict(zip(g["key"], g["value"], strict=True)) for k, g in counts.groupby("kind")}
    aff = decay_now(as_of, s.affinity_half_life_days)
    cats = {k: v * aff for k, v in by_kind.get("category", {}).items()}
    brands = {k: v * aff for k, v in by_kind.get("brand", {}).items()}
    bought = stats["rel_bought_sum"] / stats["rel_bought_n"] if stats["rel_bought_n"] else None
    viewed = stats["rel_viewed_sum"] / stats["rel_viewed_n"] if stats["rel_viewed_n"] else None
    activity = stats["activity"] * decay_now(as_of, s.activity_half_life_days)
    hours = by_kind.get("hour", {})
    days = by_kind.get("weekday", {})
    last_buy = stats["last_purchase_ts"]
    return {
        "user_id": stats["user_id"],
        "as_of": as_of,
        "categories": _shares(cats, top),
        "brands": _shares(brands, top),
        "price_band": _price_band(by_kind.get("price", {})),
        "price_index": None if (bought or viewed) is None else round(bought if bought is not None else viewed, 4),
        "price_sensitivity": (round(1.0 - bought / viewed, 4) if bought is not None and viewed else None),
        "rfm": {"recency_days": None if last_buy is None or last_buy != last_buy
                else round((as_of - last_buy) / DAY, 3),
                "frequency": int(stats["n_purchases"]), "monetary": round(float(stats["spend"]), 2)},
        "activity": {"score": round(activity, 4), "level": activity_level(activity, s),
                     "events": int(stats["n_events"])},
        "stage": stage_of(stats["first_ts"], stats["last_ts"], as_of, s),
        "first_seen": stats["first_ts"], "last_seen": stats["last_ts"],
        "preferred_hours": [int(h) for h, _ in sorted(hours.items(), key=lambda kv: (-kv[1], int(kv[0])))[:3]],
        "preferred_days": [WEEKDAYS[int(d)] for d, _ in sorted(days.items(), key=lambda kv: (-kv[1], int(kv[0])))[:2]],
        "next_category": next_category(stats["last_category"], cats, transitions),
    }


def feature_frame(stats: pd.DataFrame, counts: pd.DataFrame, as_of: float, s: ProfileSettings,
                  max_departments: int = 20) -> pd.DataFrame:
    """Numeric portrait features, one row per shopper (index user_id), float64 columns:
    recency_days (never bought: days since first seen), frequency, monetary, activity,
    events, tenure_days, price_index (1 when unknown), price_sensitivity (0 when unknown),
    evening_share (events 18:00-23:59), weekend_share, and ``top:<department>``: the affinity
    share of each top-level category (the first level of the category path); beyond
    ``max_departments`` of them, the most shared keep a column and the rest are pooled in
    ``top:(other)``."""
    st = stats.set_index("user_id")
    last_buy = st["last_purchase_ts"].fillna(st["first_ts"])
    bought = st["rel_bought_sum"] / st["rel_bought_n"].where(st["rel_bought_n"] > 0)
    viewed = st["rel_viewed_sum"] / st["rel_viewed_n"].where(st["rel_viewed_n"] > 0)
    out = pd.DataFrame({
        "recency_days": (as_of - last_buy) / DAY,
        "frequency": st["n_purchases"].astype("float64"),
        "monetary": st["spend"].astype("float64"),
        "activity": st["activity"] * decay_now(as_of, s.activity_half_life_days),
        "events": st["n_events"].astype("float64"),
        "tenure_days": (as_of - st["first_ts"]) / DAY,
        "price_index": bought.fillna(viewed).fillna(1.0),
        "price_sensitivity": (1.0 - bought / viewed).replace([np.inf, -np.inf], np.nan).fillna(0.0),
    }, index=st.index)
    hours = counts[counts["kind"] == "hour"]
    if len(hours):
        h = hours.assign(evening=hours["key"].astype(int) >= 18)
        total = h.groupby("user_id")["value"].sum()
        out["evening_share"] = (h[h["evening"]].groupby("user_id")["value"].sum() / total).reindex(out.index)
        d = counts[counts["kind"] == "weekday"]
        wk = d[d["key"].astype(int) >= 5].groupby("user_id")["value"].sum()
        out["weekend_share"] = (wk / d.groupby("user_id")["value"].sum()).reindex(out.index)
    cats = counts[counts["kind"] == "category"]
    if len(cats):
        # shares in the long format first: pivoting a flat catalogue of thousands of
        # categories over every shopper would be a dense matrix of gigabytes
        top = cats["key"].str.split(SEPARATOR, n=1).str[0]
        share = cats["value"] / cats.groupby("user_id")["value"].transform("sum").where(lambda x: x > 0)
        if top.nunique() > max_departments:  # e.g. Taobao: the most shared keep a column, the rest pooled
            keep = share.groupby(top).sum().sort_values(ascending=False, kind="stable").index[:max_departments - 1]
            top = top.where(top.isin(keep), OTHER)
        shares = pd.DataFrame({"user_id": cats["user_id"], "top": top, "share": share}).pivot_table(
            index="user_id", columns="top", values="share", aggfunc="sum", fill_value=0.0)
        shares.columns = [f"top:{c}" for c in shares.columns]
        out = out.join(shares)
    return out.fillna(0.0).astype("float64")
