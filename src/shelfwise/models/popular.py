"""MostPopular: the same list for everyone, by behaviour-weighted counts, optionally decayed
with a half-life so last week's hits outrank last year's."""

from __future__ import annotations

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.models.base import Recommender
from shelfwise.models.params import Interval, Options


class MostPopular(Recommender):
    name = "popular"
    _parameter_constraints = {
        "half_life_days": Interval(float, 0, closed="neither", allow_none=True),
        "count": Options(frozenset({"users", "weighted"})),
    }

    def __init__(self, *, half_life_days: float | None = None, count: str = "users"):
        self.half_life_days = half_life_days
        self.count = count

    def _fit(self, interactions: Interactions) -> None:
        if self.count == "users" and self.half_life_days is None:
            pop = interactions.item_popularity().astype(np.float64)
        else:
            type_w = np.array([interactions.weights.get(t, 0.0) for t in EVENT_TYPES])
            w = (type_w[interactions.seq_types] if self.count == "weighted"
                 else np.ones(interactions.n_events))
            if self.half_life_days is not None and interactions.n_events:
                age_days = (interactions.seq_times.max() - interactions.seq_times) / 86400.0
                w = w * np.power(0.5, age_days / self.half_life_days)
            pop = np.bincount(interactions.seq_items, weights=w, minlength=interactions.n_items)
        self.popularity_ = pop.astype(np.float32)  # (n_items,)

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(user_indices), self.n_items_))

    def _state(self) -> dict:
        return {"popularity_": self.popularity_}
