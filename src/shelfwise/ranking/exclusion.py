"""Behaviour-aware exclusion: which items a shopper must not be shown again.

Today's models exclude every item a shopper touched. A shop wants something finer: items the
shopper *purchased* are excluded, viewed / favourited / carted items stay eligible (they are
often what the shopper buys next), and a consumable becomes eligible again once its
repurchase interval has passed since the last purchase. The interval is learned from the
shop's own repeat purchases (``repurchase_intervals``): the median gap between consecutive
purchases of the same item by the same shopper, per item when it has ``min_repeats`` gaps,
else pooled over its category, else never (infinite).

The result is a boolean csr_matrix (n_users, n_items); use it with
``model.recommend(users, n + k, exclude_seen=False)`` followed by ``drop_excluded`` (``k`` =
the most excluded items of any user in the batch), which is what ``ranking.candidates`` does.
On a log where every event is a purchase and no item was bought twice, the mask equals
``interactions.binary``: "exclude everything seen".
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shelfwise.data.interactions import TYPE_CODES, Interactions
from shelfwise.ranking.catalogue import category_codes

DAY = 86400.0


def _user_of_event(interactions: Interactions) -> np.ndarray:
    """(n_events,) user index of every event in the sequence arrays."""
    return np.repeat(np.arange(interactions.n_users), np.diff(interactions.seq_indptr))


def _type_codes(types: Iterable[str]) -> np.ndarray:
    types = tuple(types)
    unknown = sorted(set(types) - set(TYPE_CODES))
    if unknown:
        raise ValueError(f"Unknown behaviour(s) in exclude_types: {unknown}. "
                         f"Known: {', '.join(TYPE_CODES)}.")
    return np.array([TYPE_CODES[t] for t in types], dtype=np.int8)


def repurchase_intervals(interactions: Interactions, *, min_repeats: int = 3,
                         min_gap: float = 3600.0) -> np.ndarray:
    """(n_items,) float64 seconds after a purchase when the item may be shown again; inf = never.

    Gaps are taken between consecutive purchases of one item by one shopper; gaps shorter than
    ``min_gap`` seconds are one order split into several events, not a repeat. An item with at
    least ``min_repeats`` gaps gets their median; otherwise its category (full path) gets the
    median of the gaps of all its items when they number ``min_repeats`` or more.
    """
    if min_repeats < 1:
        raise ValueError(f"min_repeats must be >= 1. Got {min_repeats} instead.")
    buy = interactions.seq_types == TYPE_CODES["purchase"]
    users = _user_of_event(interactions)[buy]
    items = interactions.seq_items[buy].astype(np.int64)
    times = interactions.seq_times[buy]
    order = np.lexsort((times, items, users))
    users, items, times = users[order], items[order], times[order]
    same_pair = (users[1:] == users[:-1]) & (items[1:] == items[:-1])
    gaps = np.diff(times)
    repeat = same_pair & (gaps >= min_gap)
    gap_items, gaps = items[1:][repeat], gaps[repeat]

    out = np.full(interactions.n_items, np.inf)
    if len(gaps) == 0:
        return out
    codes, _ = category_codes(interactions.items, interactions.n_items)
    frame = pd.DataFrame({"item": gap_items, "cat": codes[gap_items], "gap": gaps})
    per_cat = frame[frame["cat"] >= 0].groupby("cat")["gap"].agg(["median", "size"])
    per_cat = per_cat[per_cat["size"] >= min_repeats]
    has_cat = codes >= 0
    cat_interval = pd.Series(codes[has_cat]).map(per_cat["median"]).to_numpy(np.float64)
    out[has_cat] = np.where(np.isnan(cat_interval), np.inf, cat_interval)
    per_item = frame.groupby("item")["gap"].agg(["median", "size"])
    per_item = per_item[per_item["size"] >= min_repeats]
    out[per_item.index.to_numpy()] = per_item["median"].to_numpy()
    return out


def excluded_events(users: np.ndarray, items: np.ndarray, types: np.ndarray, times: np.ndarray,
                    exclude_types: Iterable[str] | None, *, n_items: int,
                    intervals: np.ndarray | None = None, now: float | None = None) -> np.ndarray:
    """(E,) bool: the events that exclude their item for their shopper. The one rule of
    exclusion, used for a whole view (``exclusion_mask``) and for one live history
    (``blocked_items``).

    users (E,) row of each event, items (E,) item indices, types (E,) int8 codes, times (E,)
    Unix seconds. An event excludes when its type is in ``exclude_types`` (None = every
    type: everything touched); a purchase only while ``now`` minus the shopper's last
    purchase of the item is below ``intervals[item]`` (seconds; None = never again).
    ``now`` defaults to the latest time given."""
    if exclude_types is None:
        return np.ones(len(items), dtype=bool)
    codes = _type_codes(exclude_types)
    if intervals is not None and np.shape(intervals) != (n_items,):
        raise ValueError(f"intervals must have shape ({n_items},). Got {np.shape(intervals)} instead.")
    hit = np.isin(types, codes)
    purchase = TYPE_CODES["purchase"]
    if intervals is not None and purchase in codes:
        if now is None:
            now = float(times.max()) if len(times) else 0.0
        # the last purchase of each (user, item) decides whether a consumable is due again
        buy = np.flatnonzero(types == purchase)
        key = np.asarray(users, dtype=np.int64)[buy] * n_items + items[buy]
        pairs, at = np.unique(key, return_inverse=True)  # numpy, not a pandas groupby: one
        last = np.full(len(pairs), -np.inf)  # shopper's history is served in microseconds
        np.maximum.at(last, at, times[buy])
        last = last[at]
        due = (now - last) >= np.asarray(intervals, dtype=np.float64)[items[buy]]
        hit[buy[due]] = False
    return hit


def exclusion_mask(interactions: Interactions, exclude_types: Iterable[str] | None = ("purchase",), *,
                   intervals: np.ndarray | None = None, now: float | None = None) -> sp.csr_matrix:
    """Boolean csr_matrix (n_users, n_items): True where the item must not be shown, by the
    rule of ``excluded_events`` (``now`` defaults to the latest event time in ``interactions``)."""
    users = _user_of_event(interactions)
    items = interactions.seq_items
    hit = excluded_events(users, items, interactions.seq_types, interactions.seq_times, exclude_types,
                          n_items=interactions.n_items, intervals=intervals, now=now)
    mask = sp.csr_matrix((np.ones(int(hit.sum()), dtype=bool), (users[hit], items[hit])),
                         shape=(interactions.n_users, interactions.n_items))
    mask.sum_duplicates()
    mask.data[:] = True
    return mask


def blocked_items(items: np.ndarray, types: np.ndarray, times: np.ndarray, exclude_types: Iterable[str] | None,
                  *, n_items: int, intervals: np.ndarray | None = None, now: float | None = None) -> np.ndarray:
    """Sorted unique item indices one shopper must not be shown, from their events (items (E,),
    type codes (E,), times (E,)), by the rule of ``excluded_events``."""
    items = np.asarray(items, dtype=np.int64)
    if len(items) == 0:
        return np.zeros(0, dtype=np.int64)
    hit = excluded_events(np.zeros(len(items), np.int64), items, np.asarray(types, dtype=np.int8),
                          np.asarray(times, dtype=np.float64), exclude_types, n_items=n_items,
                          intervals=intervals, now=now)
    return np.unique(items[hit])


def drop_excluded(items: np.ndarray, scores: np.ndarray, user_indices: np.ndarray,
                  mask: sp.csr_matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove excluded items from ranked lists and keep the first ``n`` per row.

    items int64 (B, L) and scores (B, L) as from ``recommend`` (-1 = padding); user_indices
    (B,) rows of ``mask``. Returns (items int64 (B, n), scores float32 (B, n)), order kept,
    padded with -1 / -inf.
    """
    users = np.asarray(user_indices, dtype=np.int64)
    rows = mask[users].tocoo()
    n_items = mask.shape[1]
    valid = items >= 0
    # (row, item) pairs as one int64 key: membership of every list entry in one isin
    blocked_keys = rows.row.astype(np.int64) * n_items + rows.col
    keys = np.arange(len(users), dtype=np.int64)[:, None] * n_items + items
    keep = valid & ~np.isin(keys, blocked_keys)
    # stable partition per row: kept entries first, in their original order
    order = np.argsort(~keep, axis=1, kind="stable")[:, :n]
    kept = np.take_along_axis(keep, order, 1)
    out_items = np.where(kept, np.take_along_axis(items, order, 1), -1).astype(np.int64)
    out_scores = np.where(kept, np.take_along_axis(scores, order, 1), -np.inf).astype(np.float32)
    if out_items.shape[1] < n:
        pad = n - out_items.shape[1]
        out_items = np.pad(out_items, ((0, 0), (0, pad)), constant_values=-1)
        out_scores = np.pad(out_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
    return out_items, out_scores
