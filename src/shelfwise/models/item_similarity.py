"""Shared machinery of models that score with an item x item matrix: a user's scores are
their profile times the matrix. ItemKNN and association rules differ only in how they
build the matrix."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.models.base import Recommender, top_n, zero_rows
from shelfwise.models.live import LiveScoring
from shelfwise.models.profiles import user_profiles


class ItemSimilarityRecommender(LiveScoring, Recommender):
    capabilities = frozenset({"similar_items", "explain", "live"})
    forgets_exactly = True

    recency_decay: float

    def _fit(self, interactions: Interactions) -> None:
        # similarity_[i, j]: how much touching i recommends j; csr (n_items, n_items)
        self.similarity_ = self._build_similarity(interactions).tocsr().astype(np.float32)
        self.profiles_ = user_profiles(interactions, self.recency_decay)

    def _forget(self, users: np.ndarray, view: Interactions) -> None:
        # the item x item matrix is a function of the remaining shoppers' events only
        self.similarity_ = self._build_similarity(view.without_users(users, keep_rows=False)
                                                  ).tocsr().astype(np.float32)
        self.profiles_ = zero_rows(self.profiles_, users)

    @abstractmethod
    def _build_similarity(self, interactions: Interactions) -> sp.spmatrix: ...

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        return self._score_profiles(self.profiles_[user_indices])

    def _profile_options(self) -> tuple[float, bool]:
        return float(self.recency_decay), False

    def _score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        return (profiles @ self.similarity_).toarray()

    def score_columns(self, item_indices) -> np.ndarray:
        """(n_users, k): profiles times the items' columns of the similarity matrix."""
        self.check_is_fitted()
        items = np.atleast_1d(np.asarray(item_indices, dtype=np.int64))
        return np.asarray((self.profiles_ @ self.similarity_[:, items]).toarray(), dtype=np.float32)

    def similar_items(self, item_indices, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Items most recommended by each given item: (items (B, n), scores (B, n))."""
        self.check_is_fitted()
        items = np.atleast_1d(np.asarray(item_indices, dtype=np.int64))
        scores = self.similarity_[items].toarray()
        scores[scores <= 0] = -np.inf
        scores[np.arange(len(items)), items] = -np.inf
        return top_n(scores, n)

    def explain(self, user_index: int, item_index: int, n: int = 3) -> list[tuple[int, float]]:
        """The history items that contribute most to ``item_index``'s score for the user:
        [(history item index, contribution)], largest first."""
        self.check_is_fitted()
        prof = self.profiles_[user_index]
        contrib = prof.data * self.similarity_[prof.indices, item_index].toarray().ravel()
        order = np.argsort(-contrib)[:n]
        return [(int(prof.indices[j]), float(contrib[j])) for j in order if contrib[j] > 0]

    def _state(self) -> dict:
        return {"similarity_": self.similarity_, "profiles_": self.profiles_}
