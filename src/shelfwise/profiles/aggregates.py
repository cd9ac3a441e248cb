"""What one batch of accepted events adds to the shoppers' portrait aggregates.

``batch_aggregates(rows, catalogue, ...)`` turns event rows into the three kinds of rows the
store adds up (``store.portraits``): per-shopper sums (``stats``), per-shopper counts by kind
and key (``counts``) and the shop's category transitions. Adding the aggregates of two batches
equals the aggregates of both at once, so the store holds the portrait of the whole log
without ever re-reading it. One pass of plain Python over the rows: a batch of one event (the
HTTP path) costs microseconds, where building a frame would cost milliseconds.

Decayed weights are anchored at ``ANCHOR``: an event at time t with weight w adds
``w * 2 ** ((t - ANCHOR) / half_life)``; read at time T, a sum is multiplied by
``2 ** (-(T - ANCHOR) / half_life)``, which gives every event its weight halved once per
half-life since it happened. float64 holds 2 ** +-1023: 250 years either side of the anchor
at a 90-day half-life.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from shelfwise.data.schemas import context_dict

ANCHOR = 1577836800.0  # 2020-01-01 UTC
DAY = 86400.0
SEPARATOR = " > "
PURCHASE = "purchase"
#: behaviours whose item's price says what the shopper considers buying (price band)
PRICED = ("view", "click", "favorite", "cart", "purchase")
KEY_WIDTH = 255
HOURS = tuple(str(h) for h in range(24))
WEEKDAYS = tuple(str(d) for d in range(7))


def anchored(t: float, half_life_days: float) -> float:
    """The factor an event at ``t`` is weighted by in an anchored sum (1 without decay)."""
    if half_life_days <= 0:
        return 1.0
    return 2.0 ** ((t - ANCHOR) / (half_life_days * DAY))


def price_bin(price: float) -> int:
    """Half-octave bin of a price: bin b holds [2 ** (b / 2), 2 ** ((b + 1) / 2))."""
    return math.floor(2.0 * math.log2(price))


@dataclass(frozen=True)
class CatalogueIndex:
    """Per item: its category key (the path cut at ``depth`` levels, joined by " > "), brand,
    price and price relative to its category's median price (1.0 = the median)."""

    category: dict[str, str] = field(default_factory=dict)
    brand: dict[str, str] = field(default_factory=dict)
    price: dict[str, float] = field(default_factory=dict)
    relative: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_items(cls, items: pd.DataFrame, depth: int) -> CatalogueIndex:
        if items is None or len(items) == 0:
            return cls()
        ids = items["item_id"].astype(str).tolist()
        # keys are stored in a column of 255 characters (PostgreSQL refuses longer ones)
        cats = [SEPARATOR.join(map(str, c[:depth]))[:KEY_WIDTH] if isinstance(c, list | tuple) and len(c) else ""
                for c in items["category"]]
        price = pd.to_numeric(items["price"], errors="coerce")
        frame = pd.DataFrame({"item": ids, "category": cats, "price": price})
        priced = frame[frame["price"] > 0]
        median = priced.groupby("category")["price"].median()
        shop_median = float(priced["price"].median()) if len(priced) else math.nan
        ref = frame["category"].map(median).fillna(shop_median)
        rel = frame["price"] / ref
        brands = items["brand"] if "brand" in items else pd.Series([None] * len(items))
        return cls(
            category={i: c for i, c in zip(ids, cats, strict=True) if c},
            brand={i: b[:KEY_WIDTH] for i, b in zip(ids, brands, strict=True) if isinstance(b, str) and b},
            price={i: float(p) for i, p in zip(ids, frame["price"], strict=True) if p > 0},
            relative={i: float(r) for i, r in zip(ids, rel, strict=True) if r > 0},
        )


@dataclass
class Aggregates:
    """Rows for ``EventStore.add_portrait_aggregates``."""

    stats: list[dict]
    counts: list[dict]
    transitions: list[dict]


def spend_of(item: str | None, value, context, catalogue: CatalogueIndex) -> float:
    """What a purchase row spent: the context's ``unit_price`` times the quantity in ``value``
    (UCI Online Retail's shape), else the context's ``revenue``, else the catalogue price,
    else ``value`` itself (a shop that sends the amount), else 0."""
    ctx = context_dict(context)
    qty = value if isinstance(value, int | float) and value == value and value > 0 else None
    for key in ("unit_price", "price"):
        if isinstance(ctx.get(key), int | float):
            return float(ctx[key]) * (qty or 1.0)
    if isinstance(ctx.get("revenue"), int | float):
        return float(ctx["revenue"])
    if item is not None and item in catalogue.price:
        return catalogue.price[item]
    return float(qty or 0.0)


def batch_aggregates(rows: list[dict], catalogue: CatalogueIndex, weights: dict[str, float], *,
                     affinity_half_life_days: float, activity_half_life_days: float, tz: str = "UTC",
                     previous: dict[str, tuple[str, float]] | None = None) -> Aggregates:
    """Aggregates of event ``rows`` (dicts with user_id, item_id, event_type, timestamp, and
    optionally value and context). ``weights``: behaviour -> affinity weight (the shop's
    behaviour weights). ``previous``: {shopper: (last category, time)} already stored, so the
    first category transition of a batch starts where the shopper's log left off."""
    zone = None if tz == "UTC" else ZoneInfo(tz)
    stats: dict[str, dict] = {}
    counts: dict[tuple[str, str, str], float] = {}
    paths: dict[str, list[tuple[float, str]]] = {}
    for r in rows:
        user, item, kind = str(r["user_id"]), r.get("item_id"), str(r["event_type"])
        t = float(r["timestamp"])
        item = None if item is None or item != item else str(item)
        s = stats.get(user)
        if s is None:
            s = stats[user] = {"user_id": user, "first_ts": t, "last_ts": t, "n_events": 0, "n_purchases": 0,
                               "spend": 0.0, "last_purchase_ts": None, "activity": 0.0, "rel_bought_sum": 0.0,
                               "rel_bought_n": 0, "rel_viewed_sum": 0.0, "rel_viewed_n": 0,
                               "last_category": None, "last_category_ts": None}
        s["first_ts"], s["last_ts"] = min(s["first_ts"], t), max(s["last_ts"], t)
        s["n_events"] += 1
        s["activity"] += anchored(t, activity_half_life_days)
        if zone is None:  # UTC by arithmetic: 1970-01-01 was a Thursday (weekday 3)
            hour, weekday = HOURS[int(t // 3600 % 24)], WEEKDAYS[int((t // DAY + 3) % 7)]
        else:
            when = datetime.fromtimestamp(t, zone)
            hour, weekday = HOURS[when.hour], WEEKDAYS[when.weekday()]
        for key in ((user, "hour", hour), (user, "weekday", weekday)):
            counts[key] = counts.get(key, 0.0) + 1.0
        if kind == PURCHASE:
            s["n_purchases"] += 1
            s["spend"] += spend_of(item, r.get("value"), r.get("context"), catalogue)
            if s["last_purchase_ts"] is None or t > s["last_purchase_ts"]:
                s["last_purchase_ts"] = t
        if item is None:
            continue
        w = float(weights.get(kind, 0.0))
        if kind == "review":  # a review counts by its rating, as in the training view
            value = r.get("value")
            w = float(value) if isinstance(value, int | float) and value == value else w
        rel = catalogue.relative.get(item)
        if rel is not None:
            if kind == PURCHASE:
                s["rel_bought_sum"] += rel
                s["rel_bought_n"] += 1
            elif kind in ("view", "click"):
                s["rel_viewed_sum"] += rel
                s["rel_viewed_n"] += 1
        price = catalogue.price.get(item)
        if price is not None and kind in PRICED and w > 0:
            key = (user, "price", str(price_bin(price)))
            counts[key] = counts.get(key, 0.0) + w
        if w <= 0:
            continue
        decay = anchored(t, affinity_half_life_days)
        cat, brand = catalogue.category.get(item), catalogue.brand.get(item)
        if cat is not None:
            counts[(user, "category", cat)] = counts.get((user, "category", cat), 0.0) + w * decay
            paths.setdefault(user, []).append((t, cat))
            if s["last_category_ts"] is None or t >= s["last_category_ts"]:
                s["last_category"], s["last_category_ts"] = cat, t
        if brand is not None:
            counts[(user, "brand", brand)] = counts.get((user, "brand", brand), 0.0) + w * decay
    moves: dict[tuple[str, str], float] = {}
    for user, path in paths.items():
        path.sort(key=lambda p: p[0])
        before = (previous or {}).get(user)
        seq = ([before[0]] if before is not None and before[1] <= path[0][0] else []) + [c for _, c in path]
        for a, b in itertools.pairwise(seq):
            moves[(a, b)] = moves.get((a, b), 0.0) + 1.0
    return Aggregates(
        stats=list(stats.values()),
        counts=[{"user_id": u, "kind": k, "key": key, "value": v} for (u, k, key), v in counts.items()],
        transitions=[{"prev": a, "next": b, "count": v} for (a, b), v in moves.items()])
