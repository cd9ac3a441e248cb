"""Top-K accuracy metrics over full-ranking recommendation lists.

Inputs everywhere: ``recs`` int array (n_users, K_max) of item indices, best first, -1 for
padding; ``truth`` a list (n_users,) of arrays of relevant item indices (a relevant item the
model cannot know, e.g. unseen in training, is still counted: that is honest full ranking).

Definitions follow the literature (binary relevance):
- Precision@K = hits / K;  Recall@K = hits / |relevant|;  F1 = harmonic mean of the two
- HR@K = 1 if any hit (equals Recall@K when each user has one relevant item)
- NDCG@K = sum_{hit at rank r} 1/log2(r + 1) / IDCG, IDCG over min(|relevant|, K) hits
- MAP@K = mean over users of AP@K = sum_r P@r * rel_r / min(|relevant|, K)
- MRR@K = 1 / rank of the first hit (0 if none)
"""

from __future__ import annotations

import numpy as np

METRICS = ("precision", "recall", "f1", "hr", "ndcg", "map", "mrr")


def hit_matrix(recs: np.ndarray, truth: list[np.ndarray]) -> np.ndarray:
    """bool (n_users, K_max): whether the item at each rank is relevant."""
    hits = np.zeros(recs.shape, dtype=bool)
    for u, rel in enumerate(truth):
        if len(rel):
            hits[u] = np.isin(recs[u], rel) & (recs[u] >= 0)
    return hits


def per_user(recs: np.ndarray, truth: list[np.ndarray], k: int) -> dict[str, np.ndarray]:
    """Each metric at cut-off ``k`` for each user: {name: float64 (n_users,)}."""
    hits = hit_matrix(recs[:, :k], truth)
    n_rel = np.array([len(np.unique(t)) for t in truth], dtype=np.float64)
    n_hit = hits.sum(axis=1).astype(np.float64)
    safe_rel = np.maximum(n_rel, 1)
    precision = n_hit / k
    recall = n_hit / safe_rel
    f1 = np.divide(2 * precision * recall, precision + recall,
                   out=np.zeros_like(precision), where=(precision + recall) > 0)
    ranks = np.arange(1, hits.shape[1] + 1)
    discounts = 1.0 / np.log2(ranks + 1)
    dcg = (hits * discounts).sum(axis=1)
    ideal_n = np.minimum(n_rel, k).astype(int)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[ideal_n]
    ndcg = np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)
    prec_at_r = np.cumsum(hits, axis=1) / ranks
    ap = (prec_at_r * hits).sum(axis=1) / np.maximum(np.minimum(n_rel, k), 1)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    mrr = np.divide(1.0, first, out=np.zeros(len(first)), where=first > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "hr": (n_hit > 0) * 1.0,
            "ndcg": ndcg, "map": ap, "mrr": mrr}


def accuracy(recs: np.ndarray, truth: list[np.ndarray], ks=(10,)) -> dict[str, float]:
    """Mean of every metric at every cut-off: {"ndcg@10": ..., ...}."""
    out = {}
    for k in ks:
        if k > recs.shape[1]:
            raise ValueError(f"cut-off {k} exceeds the list length {recs.shape[1]}")
        for name, values in per_user(recs, truth, k).items():
            out[f"{name}@{k}"] = float(values.mean()) if len(values) else 0.0
    return out
