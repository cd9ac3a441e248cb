"""Maximal-marginal-relevance re-ranking (Carbonell & Goldstein, SIGIR 1998).

Each step picks, among the items not yet chosen, the one maximising

    lam * rel(i) - (1 - lam) * max_{j chosen} sim(i, j)

so ``lam = 1`` keeps the relevance order and ``lam = 0`` takes at each step the item least
like those already chosen (the first pick, with nothing chosen, is then the first in the
list). ``rel`` is the list's score min-max scaled to [0, 1] per row, so that ``lam`` weighs
relevance and similarity on the same scale whatever the ranker's score range. Ties go to the
better-ranked item.

Similarity comes from the catalogue (``attribute_similarity``: shared category path and
brand) or from item vectors (``vector_similarity``: cosine).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shelfwise.ranking.catalogue import SEP, category_paths, column_codes


def attribute_similarity(catalogue: pd.DataFrame | None, items: np.ndarray,
                         category_weight: float = 0.5) -> np.ndarray:
    """(B, L, L) float32 similarity of the items (B, L) (-1 = padding, similarity 0).

    ``category_weight`` * (shared category-path prefix length / the longer path's length)
    + (1 - ``category_weight``) * (same brand). An item is 1 to itself when it has both.
    """
    if not 0 <= category_weight <= 1:
        raise ValueError(f"category_weight must be in [0, 1]. Got {category_weight} instead.")
    items = np.asarray(items, dtype=np.int64)
    n_items = len(catalogue) if catalogue is not None else int(items.max(initial=-1)) + 1
    paths = category_paths(catalogue, n_items)
    depth = max((len(p) for p in paths), default=0)
    length = np.array([len(p) for p in paths], dtype=np.float32)
    safe = np.where(items >= 0, items, 0)
    common = np.zeros((*items.shape, items.shape[1]), dtype=np.float32)
    for d in range(1, depth + 1):
        # prefixes nest, so counting equal prefixes per depth gives the shared prefix length
        codes, _ = pd.factorize(pd.Series([SEP.join(p[:d]) if len(p) >= d else None for p in paths]),
                                use_na_sentinel=True)
        c = codes[safe]
        common += (c[:, :, None] == c[:, None, :]) & (c[:, :, None] >= 0)
    longer = np.maximum(length[safe][:, :, None], length[safe][:, None, :])
    cat_sim = np.divide(common, longer, out=np.zeros_like(common), where=longer > 0)
    brand = column_codes(catalogue, n_items, "brand")[safe]
    brand_sim = (brand[:, :, None] == brand[:, None, :]) & (brand[:, :, None] >= 0)
    sim = category_weight * cat_sim + (1 - category_weight) * brand_sim
    valid = items >= 0
    return (sim * (valid[:, :, None] & valid[:, None, :])).astype(np.float32)


def vector_similarity(vectors: np.ndarray, items: np.ndarray) -> np.ndarray:
    """(B, L, L) float32 cosine similarity of ``vectors[items]``; vectors (n_items, d)."""
    items = np.asarray(items, dtype=np.int64)
    v = np.asarray(vectors, dtype=np.float32)[np.where(items >= 0, items, 0)]  # (B, L, d)
    norm = np.linalg.norm(v, axis=2, keepdims=True)
    v = np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)
    sim = np.einsum("bld,bmd->blm", v, v)
    valid = items >= 0
    return (sim * (valid[:, :, None] & valid[:, None, :])).astype(np.float32)


def mmr(items: np.ndarray, scores: np.ndarray, similarity: np.ndarray, n: int,
        lam: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Re-rank (B, L) lists best first (-1 = padding) with (B, L, L) similarity.

    Returns (items int64 (B, n), scores float32 (B, n)) carrying the original scores,
    padded with -1 / -inf when a row has fewer than ``n`` items.
    """
    if not 0 <= lam <= 1:
        raise ValueError(f"lam must be in [0, 1]. Got {lam} instead.")
    if n < 1:
        raise ValueError(f"n must be >= 1. Got {n} instead.")
    items = np.asarray(items, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    B, L = items.shape
    valid = (items >= 0) & np.isfinite(scores)
    lo = np.where(valid, scores, np.inf).min(1, keepdims=True)
    hi = np.where(valid, scores, -np.inf).max(1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    rel = np.where(valid, (scores - np.where(np.isfinite(lo), lo, 0.0)) / span, 0.0)
    out_items = np.full((B, n), -1, dtype=np.int64)
    out_scores = np.full((B, n), -np.inf, dtype=np.float32)
    available = valid.copy()
    max_sim = np.zeros((B, L))
    rows = np.arange(B)
    for step in range(min(n, L)):
        gain = np.where(available, lam * rel - (1 - lam) * max_sim, -np.inf)
        pick = np.argmax(gain, axis=1)  # first maximum: ties go to the better-ranked item
        ok = available[rows, pick]
        out_items[ok, step] = items[rows[ok], pick[ok]]
        out_scores[ok, step] = scores[rows[ok], pick[ok]]
        available[rows, pick] = False
        max_sim = np.maximum(max_sim, similarity[rows, pick, :])
    return out_items, out_scores
