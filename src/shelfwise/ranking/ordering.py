"""The order of one shopper's fused list: the best-scored candidates, then the new-item slot
(see ``shelfwise.ranking.hybrid``)."""

from __future__ import annotations

import numpy as np

from shelfwise.ranking.candidates import Candidates


def best_rows(scores: np.ndarray, a: int, b: int, n: int) -> np.ndarray:
    """Rows a..b-1 of the highest finite ``scores``, at most ``n``; ties keep candidate order
    (best rank any retriever gave), so live and batch ranking agree."""
    part = scores[a:b]
    order = np.argsort(-part, kind="stable")[:n]
    order = order[np.isfinite(part[order])]
    return a + order


def with_new_item(rows: np.ndarray, scores: np.ndarray, cands: Candidates, a: int, b: int, n: int, *,
                  position: int | None, popularity: np.ndarray) -> np.ndarray:
    """``rows`` (best first, at most ``n``, of the shopper's candidate rows a..b-1) with the
    untouched item (``popularity`` (n_items,) 0) that a content retriever ranks highest moved
    to 1-based ``position`` when it is lower or absent; None = no slot."""
    content = [r for r, name in enumerate(cands.retrievers) if name.startswith("content")]
    if position is None or position > n or len(rows) < position - 1 or not content or b <= a:
        return rows
    ranks = np.where(np.isnan(cands.scores[a:b, content]), np.inf, cands.ranks[a:b, content]).min(axis=1)
    untouched = (popularity[cands.items[a:b]] == 0) & np.isfinite(scores[a:b])
    ranks = np.where(untouched, ranks, np.inf)
    if not np.isfinite(ranks).any():
        return rows
    best = a + int(np.argmin(ranks))
    if best in rows[:position]:
        return rows
    rest = rows[rows != best]
    return np.concatenate([rest[:position - 1], [best], rest[position - 1:]])[:n].astype(rows.dtype)
