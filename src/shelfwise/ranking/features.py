"""Per (shopper, candidate) features for fusion and learning-to-rank.

``build_features(interactions, candidates)`` returns a frame with one row per candidate row
(same order) and float32 columns:

- ``score:<retriever>``, ``rank:<retriever>``: each retriever's score (NaN = not proposed)
  and 1-based rank (``budget + 1`` = not proposed), from ``Candidates``;
  ``gap:<retriever>``: the score minus the best score that retriever gave this shopper
  (0 for its top item, NaN = not proposed), comparable across fits whose score scales differ;
  ``norm:<retriever>``: the score min-max normalised over that retriever's proposals for the
  shopper (1 = its best, 0 = its worst or not proposed; 1 when all are equal);
  ``n_proposed``: how many retrievers proposed the item;
- ``pop_all``: distinct shoppers who touched the item; ``pop_recent``: the same within the
  last ``recent_days`` before ``now``; ``pop_purchase``: distinct shoppers who bought it, and
  ``purchase_rate`` = pop_purchase / pop_all (0 for an untouched item): on a log of views,
  favourites and carts, how often the item is bought by those who look at it (on a log of
  purchases only, pop_purchase = pop_all and the rate is 1); ``item_age_days``: days since the item's first event
  (NaN = never seen: the catalogue carries no listing date);
- ``log_price_ratio``: log(item price / median price of the items in the shopper's events),
  NaN when either is unknown;
- ``category_affinity``, ``brand_affinity``: share of the shopper's events on items of the
  candidate's category (full path) / brand; ``days_since_category``: days since the shopper
  last touched that category (NaN = never);
- ``n_view``, ``n_favorite``, ``n_cart``, ``n_purchase``: the shopper's own events of that
  type on the item; ``days_since_item``: days since the shopper last touched it (NaN = never);
- ``last_event_type``: code (``EVENT_TYPES`` order) of the shopper's latest event, -1 = none;
  ``n_events``: the shopper's number of events (activity level); ``purchase_share``: the
  share of them that are purchases (0 = none);
- ``cooc_last_item``: shoppers who touched both the candidate and the shopper's latest item.

Item-level statistics come from a ``FeatureContext`` of the training view (built once and
reused); the shopper-level ones from ``Histories``: the view's own sequences by default, or
the events a live shopper has now (``Histories.single``), so serving and training compute
the same features. ``now`` defaults to the view's latest event, so features built on a
training view never look past it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shelfwise.data.interactions import TYPE_CODES, Interactions
from shelfwise.ranking.catalogue import category_codes, column_codes

if TYPE_CHECKING:
    from shelfwise.ranking.candidates import Candidates

DAY = 86400.0
OWN_TYPES = ("view", "favorite", "cart", "purchase")


@dataclass(frozen=True)
class Histories:
    """Shoppers' events in CSR layout: row ``u`` is ``items[indptr[u]:indptr[u+1]]``, oldest first."""

    indptr: np.ndarray  # (U + 1,) int64
    items: np.ndarray  # (E,) int64 item index
    types: np.ndarray  # (E,) int8 code into EVENT_TYPES
    times: np.ndarray  # (E,) float64 unix seconds

    @classmethod
    def of(cls, interactions: Interactions) -> Histories:
        return cls(interactions.seq_indptr.astype(np.int64), interactions.seq_items.astype(np.int64),
                   interactions.seq_types, interactions.seq_times)

    @classmethod
    def single(cls, items, types, times) -> Histories:
        """One shopper from item indices, type names or codes, and times (oldest first)."""
        codes = np.array([TYPE_CODES.get(t, 0) if isinstance(t, str) else int(t) for t in types],
                         dtype=np.int8)
        return cls(np.array([0, len(items)], np.int64), np.asarray(items, np.int64), codes,
                   np.asarray(times, np.float64))

    @property
    def n_users(self) -> int:
        return len(self.indptr) - 1

    def subset(self, users: np.ndarray) -> Histories:
        """The histories of ``users`` (U',) only, in that order (row k = ``users[k]``)."""
        starts, ends = self.indptr[users], self.indptr[users + 1]
        lengths = ends - starts
        idx = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths) + \
            np.arange(int(lengths.sum()))
        return Histories(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), self.items[idx],
                         self.types[idx], self.times[idx])

    @property
    def user_of_event(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_users), np.diff(self.indptr))


@dataclass(frozen=True)
class FeatureContext:
    """Item-level arrays of a training view, (n_items,) each, and its co-occurrence matrix."""

    now: float
    pop_all: np.ndarray
    pop_recent: np.ndarray
    pop_purchase: np.ndarray
    first_seen: np.ndarray  # unix time of the item's first event, inf = never
    price: np.ndarray  # float64, NaN = unknown
    category: np.ndarray  # int64 codes, -1 = none
    brand: np.ndarray  # int64 codes, -1 = none
    by_item: sp.csr_matrix  # (n_items, n_users) 0/1: who touched each item

    @classmethod
    def of(cls, interactions: Interactions, *, now: float | None = None,
           recent_days: float = 7.0) -> FeatureContext:
        inter, n_items = interactions, interactions.n_items
        h = Histories.of(inter)
        if now is None:
            now = float(h.times.max()) if len(h.times) else 0.0
        recent = h.times >= now - recent_days * DAY
        pairs = np.unique(h.user_of_event[recent] * n_items + h.items[recent])
        bought = h.types == TYPE_CODES["purchase"]
        buyers = np.unique(h.user_of_event[bought] * n_items + h.items[bought])
        first = np.full(n_items, np.inf)
        np.minimum.at(first, h.items, h.times)
        cat = inter.items
        price = (pd.to_numeric(cat["price"], errors="coerce").to_numpy(np.float64)
                 if cat is not None and "price" in cat else np.full(n_items, np.nan))
        return cls(now=now, pop_all=inter.item_popularity(),
                   pop_recent=np.bincount(pairs % n_items, minlength=n_items),
                   pop_purchase=np.bincount(buyers % n_items, minlength=n_items), first_seen=first,
                   price=price, category=category_codes(cat, n_items)[0],
                   brand=column_codes(cat, n_items, "brand"), by_item=inter.binary.T.tocsr())


def _pair_stats(keys: np.ndarray, times: np.ndarray, query: np.ndarray):
    """For int64 ``keys`` (n,) with ``times`` (n,): (count, last time) at each ``query`` key;
    (0, NaN) for keys never seen."""
    if len(keys) == 0:
        return np.zeros(len(query), np.int64), np.full(len(query), np.nan)
    uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    last = np.full(len(uniq), -np.inf)
    np.maximum.at(last, inv, times)
    pos = np.minimum(np.searchsorted(uniq, query), len(uniq) - 1)
    hit = uniq[pos] == query
    return np.where(hit, counts[pos], 0), np.where(hit, last[pos], np.nan)


def build_features(interactions: Interactions | None, candidates: Candidates, *, now: float | None = None,
                   recent_days: float = 7.0, context: FeatureContext | None = None,
                   histories: Histories | None = None) -> pd.DataFrame:
    """(m, F) float32 frame of features for the m candidate rows, in their order.

    ``candidates.users`` index rows of ``histories`` (default: the view's users);
    ``interactions`` may be None when both ``context`` and ``histories`` are given."""
    ctx = context or FeatureContext.of(interactions, now=now, recent_days=recent_days)
    h = histories or Histories.of(interactions)
    now = ctx.now
    n_items = len(ctx.pop_all)
    # only the batch's shoppers matter: their events, with candidate users renumbered to match
    needed, u = np.unique(candidates.users, return_inverse=True)
    if len(needed) < h.n_users:
        h = h.subset(needed)
    else:
        u = candidates.users
    ev_user, ev_item, ev_type, ev_time = h.user_of_event, h.items, h.types, h.times
    i = candidates.items
    out: dict[str, np.ndarray] = {}
    n_batch = len(candidates.indptr) - 1
    sizes = np.diff(candidates.indptr)
    row_of = np.repeat(np.arange(n_batch), sizes)  # batch shopper of each row
    starts = candidates.indptr[:-1][sizes > 0]  # rows are contiguous per shopper
    for r, name in enumerate(candidates.retrievers):
        s = candidates.scores[:, r]
        out[f"score:{name}"] = s
        out[f"rank:{name}"] = candidates.ranks[:, r]
        best = np.full(n_batch, np.nan, dtype=np.float32)
        low = np.full(n_batch, np.nan, dtype=np.float32)
        if len(s):  # fmax / fmin skip NaN (not proposed); an all-NaN shopper stays NaN
            best[sizes > 0] = np.fmax.reduceat(s, starts)
            low[sizes > 0] = np.fmin.reduceat(s, starts)
        best, low = best[row_of], low[row_of]
        out[f"gap:{name}"] = s - best
        with np.errstate(divide="ignore", invalid="ignore"):
            norm = np.where(best > low, (s - low) / (best - low), 1.0)
        out[f"norm:{name}"] = np.where(np.isnan(s), 0.0, norm)
    out["n_proposed"] = candidates.proposed.sum(axis=1)

    # item popularity, overall and recent, and age
    out["pop_all"] = ctx.pop_all[i]
    out["pop_recent"] = ctx.pop_recent[i]
    out["pop_purchase"] = ctx.pop_purchase[i]
    out["purchase_rate"] = np.divide(ctx.pop_purchase[i], ctx.pop_all[i], out=np.zeros(len(i)),
                                     where=ctx.pop_all[i] > 0)
    out["item_age_days"] = np.where(np.isfinite(ctx.first_seen[i]), (now - ctx.first_seen[i]) / DAY, np.nan)

    # price against the shopper's usual band
    if h.n_users == 1:  # one live shopper: no grouping needed (this runs per request)
        prices = ctx.price[ev_item]
        user_band = np.array([np.nanmedian(prices) if np.isfinite(prices).any() else np.nan])
    else:
        band = pd.Series(ctx.price[ev_item]).groupby(ev_user).median()
        user_band = band.reindex(np.arange(h.n_users)).to_numpy(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(ctx.price[i] / user_band[u])
    out["log_price_ratio"] = np.where(np.isfinite(ratio), ratio, np.nan)

    # affinity to the candidate's category and brand, and how recently
    n_ev = np.diff(h.indptr)
    for label, codes in (("category", ctx.category), ("brand", ctx.brand)):
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
    end = h.indptr[1:] - 1
    has_ev = n_ev > 0
    last_type = np.where(has_ev, ev_type[np.maximum(end, 0)] if len(ev_type) else -1, -1)
    last_item = np.where(has_ev, ev_item[np.maximum(end, 0)] if len(ev_item) else -1, -1)
    out["last_event_type"] = last_type[u]
    out["n_events"] = n_ev[u]
    n_buy = np.bincount(ev_user[ev_type == TYPE_CODES["purchase"]], minlength=h.n_users)
    out["purchase_share"] = np.divide(n_buy, n_ev, out=np.zeros(h.n_users), where=n_ev > 0)[u]
    li = last_item[u]
    if h.n_users == 1:  # one live shopper: one row of the last item, not one per candidate
        who = np.zeros(ctx.by_item.shape[1], dtype=np.float32)
        who[ctx.by_item[max(int(last_item[0]), 0)].indices] = 1.0
        cooc = ctx.by_item[i] @ who
    else:
        cooc = np.asarray(ctx.by_item[np.maximum(li, 0)].multiply(ctx.by_item[i]).sum(axis=1)).ravel()
    out["cooc_last_item"] = np.where(li >= 0, cooc, 0)
    # one float32 block: cheaper to build than a frame of separate columns
    return pd.DataFrame(np.column_stack([np.asarray(v, dtype=np.float32) for v in out.values()]),
                        columns=list(out))
