"""Scoring from a shopper's events as they are now, not as they were at training time.

Models whose scores are a function of the shopper's item profile (item-kNN and rules, EASE,
content, ALS/BPR by fold-in, popularity) declare the ``live`` capability and implement
``_score_profiles``; ``score_histories`` builds the profiles from event lists with the same
behaviour weights and recency weighting as ``fit``. The Engine calls it with each shopper's
history read from the store, so an event changes the very next recommendation, and a new
shopper is personalised from their first event, without retraining.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import scipy.sparse as sp

from shelfwise.models.profiles import history_profiles


class LiveScoring:
    """Mixin for ``Recommender`` subclasses; put it first among the bases."""

    def _profile_options(self) -> tuple[float, bool]:
        """(recency_decay, binary) used to build profiles; the model's own by default."""
        return float(getattr(self, "recency_decay", 1.0)), bool(getattr(self, "binary", False))

    def score_histories(self, items: list[np.ndarray], types: list, times: list[np.ndarray],
                        cache: dict | None = None) -> np.ndarray:
        """Scores (n_shoppers, n_items) float32 for shoppers given by their events: per shopper
        item indices, event type names and Unix times, in time order. Equals ``score`` for a
        trained shopper given their training events (fold-in models: up to the fold-in).

        ``cache``: a dict shared by several models scoring the same events (the hybrid's
        retrievers), so models with the same profile options build the profiles once."""
        self.check_is_fitted()
        decay, binary = self._profile_options()
        key = (decay, binary, self.n_items_, np.asarray(self.type_weights_).tobytes())
        profiles = cache.get(key) if cache is not None else None
        if profiles is None:
            profiles = history_profiles(items, types, times, self.type_weights_, self.n_items_,
                                        recency_decay=decay, binary=binary)
            if cache is not None:
                cache[key] = profiles
        return np.asarray(self._score_profiles(profiles), dtype=np.float32)

    @abstractmethod
    def _score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        """Dense scores (n_shoppers, n_items) from profiles, csr (n_shoppers, n_items)."""
