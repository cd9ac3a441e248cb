"""Beyond-accuracy metrics of recommendation lists.

``recs`` is (n_users, K) item indices, -1 padding; ``train`` the (n_users_train, n_items)
training matrix that defines popularity and item similarity.

- coverage: share of the catalogue recommended to at least one user
- novelty: mean self-information -log2(pop(i) / n_users) of recommended items (Zhou 2010)
- intra-list diversity: mean pairwise (1 - cosine) between a list's items, cosine over the
  items' training columns (Ziegler 2005)
- popularity bias: ARP, mean training popularity (share of users) of recommended items
  (Abdollahpouri 2019), and the Gini index of how often each item is recommended
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def coverage(recs: np.ndarray, n_items: int) -> float:
    shown = np.unique(recs[recs >= 0])
    return len(shown) / max(n_items, 1)


def _popularity(train: sp.csr_matrix) -> np.ndarray:
    return np.diff(train.tocsc().indptr).astype(np.float64)


def novelty(recs: np.ndarray, train: sp.csr_matrix) -> float:
    pop = _popularity(train)
    valid = recs >= 0
    if not valid.any():
        return 0.0
    p = np.maximum(pop[recs[valid]], 1.0) / max(train.shape[0], 1)  # unseen items count once
    return float(np.mean(-np.log2(p)))


def average_popularity(recs: np.ndarray, train: sp.csr_matrix) -> float:
    pop = _popularity(train) / max(train.shape[0], 1)
    valid = recs >= 0
    return float(pop[recs[valid]].mean()) if valid.any() else 0.0


def gini(recs: np.ndarray, n_items: int) -> float:
    counts = np.sort(np.bincount(recs[recs >= 0], minlength=n_items).astype(np.float64))
    if counts.sum() == 0:
        return 0.0
    idx = np.arange(1, n_items + 1)
    return float(((2 * idx - n_items - 1) * counts).sum() / (n_items * counts.sum()))


def intra_list_diversity(recs: np.ndarray, train: sp.csr_matrix, max_users: int = 2000,
                         seed: int = 0) -> float:
    """Mean over (up to ``max_users`` sampled) lists of mean pairwise cosine distance."""
    users = np.arange(recs.shape[0])
    if len(users) > max_users:
        users = np.random.default_rng(seed).choice(users, max_users, replace=False)
    cols = train.T.tocsr().astype(np.float32)
    norms = np.sqrt(np.asarray(cols.multiply(cols).sum(axis=1)).ravel())
    values = []
    for u in users:
        items = recs[u][recs[u] >= 0]
        if len(items) < 2:
            continue
        block = cols[items]
        sims = (block @ block.T).toarray() / np.maximum(np.outer(norms[items], norms[items]),
                                                         1e-12)
        iu = np.triu_indices(len(items), 1)
        values.append(float(np.mean(1.0 - sims[iu])))
    return float(np.mean(values)) if values else 0.0


def beyond_accuracy(recs: np.ndarray, train: sp.csr_matrix) -> dict[str, float]:
    n_items = train.shape[1]
    return {"coverage": coverage(recs, n_items), "novelty": novelty(recs, train),
            "diversity": intra_list_diversity(recs, train),
            "arp": average_popularity(recs, train), "gini": gini(recs, n_items)}
