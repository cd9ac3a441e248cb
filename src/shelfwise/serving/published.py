"""Popularity as the serving path shows it: the popular list's order and scores, the
fallback order, popular-in-context lists and the "popular this week (N shoppers)" counts.

Exact (the ``popular`` model plus the live counters, the online state's weekly counts) until
``public`` is set to the shop's ``privacy.dp.PublicCounts``; then every one of them comes from
its differentially private releases, and nothing exact is shown.
"""

from __future__ import annotations

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.models.base import top_n


class Published:
    def __init__(self, views):
        self.views = views
        self.public = None  # privacy.dp.PublicCounts, or None: exact counts
        self._memo: tuple | None = None  # ((view, release), scores) of the last popularity asked

    def popularity(self, view: Interactions) -> np.ndarray:
        """(view.n_items,) float32: the released noisy count of shoppers per item (-inf for an
        item the release lacks, and for every item while no release exists), else exact."""
        if self.public is None:
            return self.views.popular_scores(view)
        release = self.public.release("popular")
        if release is None:  # no budget was ever left: nothing counted may be shown
            return np.full(view.n_items, -np.inf, dtype=np.float32)
        key = (id(view), release.kind, release.released_at)
        if self._memo is None or self._memo[0] != key:  # once per release and view, not per request
            counts = release.for_items(view.item_ids)
            self._memo = (key, np.where(np.isnan(counts), -np.inf, counts).astype(np.float32))
        return self._memo[1].copy()

    def order(self, view: Interactions, n: int) -> list[int]:
        """Item indices of the top ``n`` by ``popularity``, best first."""
        if self.public is None:
            return self.views.popular_order(view, n)
        items, _ = top_n(self.popularity(view)[None, :], min(n, view.n_items))
        return [int(i) for i in items[0] if i >= 0]

    def week_counts(self, view: Interactions):
        """item indices (k,) -> int64 (k,) released noisy weekly counts, 0 where a count is
        below its stated error (so a trend is named only where one is likely)."""
        def noisy(items: np.ndarray) -> np.ndarray:
            release = self.public.release("week")
            if release is None:
                return np.zeros(len(items), dtype=np.int64)
            got = release.for_items(view.item_ids[np.asarray(items, dtype=np.int64)])
            return np.where(np.isnan(got) | (got < release.accuracy), 0, got).astype(np.int64)

        return noisy
