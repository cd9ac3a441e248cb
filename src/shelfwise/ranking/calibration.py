"""Long-tail calibrated re-ranking: a target share of each list from the catalogue's long tail.

Popularity-driven models fill lists with the short head (Abdollahpouri et al., RecSys 2017 and
2019). ``long_tail_rerank`` guarantees that at least ``share`` of a list's ``n`` slots (rounded
to the nearest slot) show long-tail items, with the least change to the relevance order: the
lowest-ranked head items in the top ``n`` give way to the best-ranked tail items below it, and
the chosen items keep their relative order. A list that already meets the share is unchanged;
a pool with too few tail items gives all it has.

The long tail (``long_tail_mask``) is every item outside the head: the ``head_share`` most
popular items of the catalogue by training shoppers (20% by default, the usual short-head cut).
"""

from __future__ import annotations

import numpy as np

HEAD_SHARE = 0.2


def long_tail_mask(popularity: np.ndarray, head_share: float = HEAD_SHARE) -> np.ndarray:
    """(n_items,) bool, True for long-tail items: all but the ceil(``head_share`` * n_items)
    most popular (ties go to the lower index). popularity: (n_items,) e.g. training shoppers."""
    if not 0 <= head_share <= 1:
        raise ValueError(f"head_share must be in [0, 1]. Got {head_share} instead.")
    popularity = np.asarray(popularity, dtype=np.float64)
    n_head = int(np.ceil(head_share * len(popularity)))
    tail = np.ones(len(popularity), dtype=bool)
    tail[np.argsort(-popularity, kind="stable")[:n_head]] = False
    return tail


def long_tail_rerank(items: np.ndarray, scores: np.ndarray, n: int, tail: np.ndarray,
                     share: float) -> tuple[np.ndarray, np.ndarray]:
    """The pool (items int64 (L,), scores (L,), best first) reordered so that its first
    min(n, L) hold at least round(``share`` * min(n, L)) items with ``tail[item]`` (as many as
    the pool has); the rest follow in their order. Returns (items (L,), scores (L,))."""
    if not 0 <= share <= 1:
        raise ValueError(f"share must be in [0, 1]. Got {share} instead.")
    items, scores = np.asarray(items, dtype=np.int64), np.asarray(scores)
    m = min(n, len(items))
    is_tail = np.asarray(tail, dtype=bool)[items]
    need = round(share * m) - int(is_tail[:m].sum())
    if need <= 0 or m == 0:
        return items, scores
    incoming = np.flatnonzero(is_tail[m:])[:need] + m  # best-ranked tail items below the top m
    outgoing = np.flatnonzero(~is_tail[:m])[::-1][:len(incoming)]  # lowest-ranked head items in it
    chosen = np.zeros(len(items), dtype=bool)
    chosen[:m] = True
    chosen[outgoing], chosen[incoming] = False, True
    order = np.concatenate([np.flatnonzero(chosen), np.flatnonzero(~chosen)])
    return items[order], scores[order]
