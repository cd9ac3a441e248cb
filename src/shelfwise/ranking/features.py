"""Per (shopper, candidate) features for fusion and learning-to-rank.

``build_features(interactions, candidates)`` returns a frame with one row per candidate row
(same order) and float32 columns:

- ``score:<retriever>``, ``rank:<retriever>``: each retriever's score (NaN = not proposed)
  and 1-based rank (``budget + 1`` = not proposed), from ``Candidates``;
- ``pop_all``: distinct shoppers who touched the item; ``pop_recent``: the same within the
  last ``recent_days`` before ``now``; ``item_age_days``: days since the item's first event
  (NaN = never seen: the catalogue carries no listing date);
- ``log_price_ratio``: log(item price / median price of the items in the shopper's events),
  NaN when either is unknown;
- ``category_affinity``, ``brand_affinity``: share of the shopper's events on items of the
  candidate's category (full path) / brand; ``days_since_category``: days since the shopper
  last touched that category (NaN = never);
- ``n_view``, ``n_favorite``, ``n_cart``, ``n_purchase``: the shopper's own events of that
  type on the item; ``days_since_item``: days since the shopper last touched it (NaN = never);
- ``last_event_type``: code (``EVENT_TYPES`` order) of the shopper's latest event, -1 = none;
  ``n_events``: the shopper's number of events (activity level);
- ``cooc_last_item``: shoppers who touched both the candidate and the shopper's latest item.

Everything is computed from ``interactions`` alone; ``now`` defaults to its latest event, so
features built on a training view never look past it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shelfwise.data.interactions import TYPE_CODES, Interactions
from shelfwise.ranking.candidates import Candidates
from shelfwise.ranking.catalogue import category_codes, column_codes

DAY = 86400.0
OWN_TYPES = ("view", "favorite", "cart", "purchase")


def _pair_stats(keys: np.ndarray, times: np.ndarray, query: np.ndarray):
    """For int64 ``keys`` (n,) with ``times`` (n,): (count, last time) at each ``query`` key;
    (0, NaN) for keys never seen."""
    uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    last = np.full(len(uniq), -np.inf)
    np.maximum.at(last, inv, times)
    pos = np.searchsorted(uniq, query)
    pos = np.minimum(pos, max(len(uniq) - 1, 0))
    hit = (uniq[pos] == query) if len(uniq) else np.zeros(len(query), bool)
    return (np.where(hit, counts[pos] if len(uniq) else 0, 0),
            np.where(hit, last[pos] if len(uniq) else np.nan, np.nan))


def build_features(interactions: Interactions, candidates: Candidates, *, now: float | None = None,
                   recent_days: float = 7.0) -> pd.DataFrame:
    """(m, F) float32 frame of features for the m candidate rows, in their order."""
    inter = interactions
    n_items = inter.n_items
    ev_user = np.repeat(np.arange(inter.n_users), np.diff(inter.seq_indptr))
    ev_item = inter.seq_items.astype(np.int64)
    ev_type, ev_time = inter.seq_types, inter.seq_times
    if now is None:
        now = float(ev_time.max()) if len(ev_time) else 0.0
    u, i = candidates.users, candidates.items
    out: dict[str, np.ndarray] = {}
    for r, name in enumerate(candidates.retrievers):
        out[f"score:{name}"] = candidates.scores[:, r]
        out[f"rank:{name}"] = candidates.ranks[:, r]

    # item popularity, overall and recent, and age
    out["pop_all"] = inter.item_popularity()[i]
    recent = ev_time >= now - recent_days * DAY
    pairs = np.unique(ev_user[recent] * n_items + ev_item[recent])
    out["pop_recent"] = np.bincount(pairs % n_items, minlength=n_items)[i]
    first = np.full(n_items, np.inf)
    np.minimum.at(first, ev_item, ev_time)
    out["item_age_days"] = np.where(np.isfinite(first[i]), (now - first[i]) / DAY, np.nan)

    # price against the shopper's usual band
    cat = inter.items
    price = (pd.to_numeric(cat["price"], errors="coerce").to_numpy(np.float64)
             if cat is not None and "price" in cat else np.full(n_items, np.nan))
    band = pd.Series(price[ev_item]).groupby(ev_user).median()
    user_band = band.reindex(np.arange(inter.n_users)).to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(price[i] / user_band[u])
    out["log_price_ratio"] = np.where(np.isfinite(ratio), ratio, np.nan)

    # affinity to the candidate's category and brand, and how recently
    n_ev = np.diff(inter.seq_indptr)
    for label, codes in (("category", category_codes(cat, n_items)[0]),
                         ("brand", column_codes(cat, n_items, "brand"))):
        width = int(codes.max(initial=-1)) + 2  # code -1 (none) is shifted to 0, never matched
        has = codes[ev_item] >= 0
        count, last = _pair_stats(ev_user[has] * width + codes[ev_item][has] + 1, ev_time[has],
                                  u * width + codes[i] + 1)
        count = np.where(codes[i] >= 0, count, 0)
        out[f"{label}_affinity"] = np.divide(count, n_ev[u], out=np.zeros(len(u)), where=n_ev[u] > 0)
        if label == "category":
            out["days_since_category"] = np.where(codes[i] >= 0, (now - last) / DAY, np.nan)

    # the shopper's own events on the item
    for t in OWN_TYPES:
        sel = ev_type == TYPE_CODES[t]
        out[f"n_{t}"], _ = _pair_stats(ev_user[sel] * n_items + ev_item[sel], ev_time[sel],
                                       u * n_items + i)
    _, last_touch = _pair_stats(ev_user * n_items + ev_item, ev_time, u * n_items + i)
    out["days_since_item"] = (now - last_touch) / DAY

    # the shopper: latest event type, activity, co-occurrence with the latest item
    end = inter.seq_indptr[1:] - 1
    has_ev = n_ev > 0
    last_type = np.where(has_ev, inter.seq_types[np.maximum(end, 0)], -1)
    last_item = np.where(has_ev, inter.seq_items[np.maximum(end, 0)], -1)
    out["last_event_type"] = last_type[u]
    out["n_events"] = n_ev[u]
    by_item = inter.binary.T.tocsr()  # (n_items, n_users)
    li = last_item[u]
    cooc = np.asarray(by_item[np.maximum(li, 0)].multiply(by_item[i]).sum(axis=1)).ravel()
    out["cooc_last_item"] = np.where(li >= 0, cooc, 0)
    return pd.DataFrame({k: np.asarray(v, dtype=np.float32) for k, v in out.items()})
