"""User profile vectors shared by the neighbourhood models.

A profile weights each item a user touched by the behaviour weights of their events and
by how recent each event is, counted in events from the end of the user's sequence:
``weight = behaviour_weight * recency_decay ** (later events)``. Counting events instead of
seconds makes one default work for shops whose users act every minute or every month.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.data.schemas import EVENT_TYPES


def user_profiles(interactions: Interactions, recency_decay: float = 1.0,
                  binary: bool = False) -> sp.csr_matrix:
    """csr_matrix (n_users, n_items) float32 of recency-weighted behaviour weights."""
    type_w = np.array([interactions.weights.get(t, 0.0) for t in EVENT_TYPES], np.float32)
    w = np.ones(interactions.n_events, np.float32) if binary else type_w[interactions.seq_types]
    indptr = interactions.seq_indptr
    users = np.repeat(np.arange(interactions.n_users), np.diff(indptr))
    if recency_decay != 1.0:
        w = w * np.power(np.float32(recency_decay), events_since(interactions), dtype=np.float32)
    pos = w > 0
    prof = sp.csr_matrix((w[pos], (users[pos], interactions.seq_items[pos])),
                         shape=(interactions.n_users, interactions.n_items), dtype=np.float32)
    prof.sum_duplicates()
    return prof


def events_since(interactions: Interactions) -> np.ndarray:
    """(n_events,) how many of the user's events happened strictly later than each event.

    Events at the same timestamp share a value, so data without real times (every event at
    t=0) gets no recency weighting rather than one invented from file order.
    """
    indptr, times = interactions.seq_indptr, interactions.seq_times
    n = interactions.n_events
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    users = np.repeat(np.arange(interactions.n_users), np.diff(indptr))
    pos = np.arange(n)
    # an event closes its tie group when the next event is another user's or later in time
    closes = np.ones(n, dtype=bool)
    closes[:-1] = (users[1:] != users[:-1]) | (times[1:] != times[:-1])
    group_end = np.minimum.accumulate(np.where(closes, pos, n)[::-1])[::-1]
    return (indptr[users + 1] - 1) - group_end


def keep_top_k_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row of a csr matrix."""
    m = m.tocsr()
    counts = np.diff(m.indptr)
    if counts.max(initial=0) <= k:
        return m
    rows = np.repeat(np.arange(m.shape[0]), counts)
    # sort entries by (row, -value); rank within row = position - row start
    order = np.lexsort((-m.data, rows))
    rank = np.arange(len(order)) - m.indptr[rows[order]]
    keep = order[rank < k]
    return sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape)


def history_profiles(items: list[np.ndarray], types: list, times: list[np.ndarray],
                     type_weights: np.ndarray, n_items: int, recency_decay: float = 1.0,
                     binary: bool = False) -> sp.csr_matrix:
    """``user_profiles`` for event lists given at serving time (a shopper's live history).

    items: per shopper, item indices (int, in time order); types: per shopper, event type
    names or codes; times: per shopper, Unix seconds. type_weights: (len(EVENT_TYPES),) the
    weights the model was fitted with. Returns csr_matrix (n_shoppers, n_items) float32, equal
    to ``user_profiles`` row for row when given the same events.
    """
    code = {t: c for c, t in enumerate(EVENT_TYPES)}
    rows, cols, vals = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    for r, (it, ty, tm) in enumerate(zip(items, types, times, strict=True)):
        it = np.asarray(it, dtype=np.int64)
        if not len(it):
            continue
        ty = np.array([code[t] if isinstance(t, str) else int(t) for t in ty], dtype=np.int64)
        w = np.ones(len(it), np.float32) if binary else type_weights[ty].astype(np.float32)
        if recency_decay != 1.0:
            tm = np.asarray(tm, dtype=np.float64)
            # events strictly later than each one (ties share a value), as ``events_since``
            later = len(tm) - np.searchsorted(np.sort(tm), tm, side="right")
            w = w * np.power(np.float32(recency_decay), later, dtype=np.float32)
        pos = w > 0
        rows.append(np.full(pos.sum(), r))
        cols.append(it[pos])
        vals.append(w[pos])
    # built as CSR directly (this runs per request): duplicates summed in event order
    key = np.concatenate(rows) * n_items + np.concatenate(cols)
    uniq, inv = np.unique(key, return_inverse=True)
    data = np.zeros(len(uniq), dtype=np.float32)
    np.add.at(data, inv, np.concatenate(vals))
    indptr = np.searchsorted(uniq // n_items, np.arange(len(items) + 1))
    return sp.csr_matrix((data, uniq % n_items, indptr), shape=(len(items), n_items))
