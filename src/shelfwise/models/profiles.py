"""User profile vectors shared by the neighbourhood models.

A profile weights each item a user touched by the behaviour weights of their events and
by how recent each event is, counted in events from the end of the user's sequence:
``weight = behaviour_weight * recency_decay ** (events since)``. Counting positions instead
of seconds makes one default work for shops whose users act every minute or every month.
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
        since = (indptr[users + 1] - 1) - np.arange(interactions.n_events)
        w = w * np.power(np.float32(recency_decay), since, dtype=np.float32)
    pos = w > 0
    prof = sp.csr_matrix((w[pos], (users[pos], interactions.seq_items[pos])),
                         shape=(interactions.n_users, interactions.n_items), dtype=np.float32)
    prof.sum_duplicates()
    return prof


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
