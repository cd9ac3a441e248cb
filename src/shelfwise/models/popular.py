"""MostPopular: the same list for everyone, optionally decayed with a half-life so last
week's hits outrank last year's.

- ``count="users"``: how many distinct shoppers interacted with each item. With a half-life
  each (shopper, item) pair still counts once, weighted by ``0.5 ** (age / half_life_days)``
  of that shopper's latest event on the item (age measured from the newest event in the
  data), so one shopper's repeated views do not make an item popular.
- ``count="weighted"``: every event counts by its behaviour weight (view 1 ... purchase 5),
  each decayed by its own age when a half-life is set.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.models.base import Recommender
from shelfwise.models.params import Interval, Options


class MostPopular(Recommender):
    name = "popular"
    capabilities = frozenset({"global"})  # the same scores for every shopper, known or not
    forgets_exactly = True
    _parameter_constraints = {
        "half_life_days": Interval(float, 0, closed="neither", allow_none=True),
        "count": Options(frozenset({"users", "weighted"})),
    }

    def __init__(self, *, half_life_days: float | None = None, count: str = "users"):
        self.half_life_days = half_life_days
        self.count = count

    def _fit(self, interactions: Interactions) -> None:
        self.popularity_ = self._popularity(interactions)

    def _forget(self, users: np.ndarray, view: Interactions) -> None:
        if self.count == "users" and self.half_life_days is None:
            # distinct shoppers per item: each forgotten shopper counted once on each item
            self.popularity_ = self.popularity_ - np.asarray(view.binary[users].sum(axis=0),
                                                             np.float32).ravel()
        else:  # decayed from the newest remaining event, or summed per event: count again
            self.popularity_ = self._popularity(view.without_users(users, keep_rows=False))

    def _popularity(self, interactions: Interactions) -> np.ndarray:
        """(n_items,) float32 the counts this model ranks by."""
        if self.count == "users":
            pop = self._user_counts(interactions)
        else:
            type_w = np.array([interactions.weights.get(t, 0.0) for t in EVENT_TYPES])
            w = type_w[interactions.seq_types]
            if self.half_life_days is not None and interactions.n_events:
                w = w * self._decay(interactions.seq_times)
            pop = np.bincount(interactions.seq_items, weights=w, minlength=interactions.n_items)
        return pop.astype(np.float32)

    def _decay(self, times: np.ndarray) -> np.ndarray:
        """0.5 ** (age in days / half-life), age from the newest of ``times``: same shape."""
        return np.power(0.5, (times.max() - times) / 86400.0 / self.half_life_days)

    def _user_counts(self, interactions: Interactions) -> np.ndarray:
        """(n_items,) distinct shoppers per item, each decayed by their latest event on it."""
        if self.half_life_days is None or interactions.n_events == 0:
            return interactions.item_popularity().astype(np.float64)
        n_users, n_items = interactions.n_users, interactions.n_items
        users = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(interactions.seq_indptr))
        pair = users * n_items + interactions.seq_items
        order = np.lexsort((interactions.seq_times, pair))  # by pair, then time
        ordered = pair[order]
        last = np.r_[ordered[1:] != ordered[:-1], True]  # each pair's latest event
        pair_u, pair_i = np.divmod(ordered[last], n_items)
        weights = sp.csr_matrix((self._decay(interactions.seq_times)[order][last],
                                 (pair_u, pair_i)), shape=(n_users, n_items))
        # only pairs in the matrix count, as without a half-life (zero-weight behaviours don't)
        return np.asarray(weights.multiply(interactions.binary).sum(axis=0)).ravel()

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(user_indices), self.n_items_))

    def _state(self) -> dict:
        return {"popularity_": self.popularity_}
