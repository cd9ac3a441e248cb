"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"), closed form.

    P = (X^T X + lambda I)^-1;   B = I - P diag(1 / diag(P));   scores = x_u B

B has a zero diagonal, so an item never recommends itself. Cost: one dense n_items x n_items
inverse, i.e. O(n_items^3) time and about 3 * n_items^2 * 4 bytes of memory in float32 (12k
items: ~1.7 GB peak, tens of seconds on 2 cores). ``max_items`` (default 30,000, ~11 GB)
turns a catalogue too large for this into a clear error instead of an out-of-memory kill.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg

from shelfwise.data.interactions import Interactions
from shelfwise.models.base import Recommender, top_n
from shelfwise.models.params import Interval, Options
from shelfwise.models.profiles import user_profiles


class EASE(Recommender):
    name = "ease"
    capabilities = frozenset({"similar_items"})
    _parameter_constraints = {
        "l2": Interval(float, 0, closed="neither"),
        "recency_decay": Interval(float, 0, 1, closed="right"),
        "max_items": Interval(int, 1),
        "binary": Options(frozenset({True, False})),
    }

    def __init__(self, *, l2: float = 100.0, recency_decay: float = 0.7,
                 max_items: int = 30_000, binary: bool = True):
        self.l2 = l2
        self.recency_decay = recency_decay
        self.max_items = max_items
        self.binary = binary

    def _fit(self, interactions: Interactions) -> None:
        n = interactions.n_items
        if n > self.max_items:
            raise ValueError(
                f"EASE needs a dense {n} x {n} inverse (~{3 * n * n * 4 / 2**30:.1f} GiB); "
                f"that is over max_items={self.max_items}. Filter the catalogue (k-core) or "
                "use itemknn / als.")
        x = interactions.binary if self.binary else interactions.matrix
        gram = (x.T @ x).toarray().astype(np.float32)  # (n_items, n_items)
        gram[np.diag_indices(n)] += self.l2
        # P = G^-1 via Cholesky: G is symmetric positive definite, and this halves the flops
        c, low = scipy.linalg.cho_factor(gram, overwrite_a=True, check_finite=False)
        p = scipy.linalg.cho_solve((c, low), np.eye(n, dtype=np.float32), overwrite_b=True,
                                   check_finite=False)
        del c, gram
        b = p / -np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        # C order: scoring reads whole rows of B; LAPACK hands back Fortran order
        self.weights_ = np.ascontiguousarray(b, dtype=np.float32)  # B[i, j]: i recommends j
        self.profiles_ = user_profiles(interactions, self.recency_decay, binary=self.binary)

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        return np.asarray(self.profiles_[user_indices] @ self.weights_)

    def similar_items(self, item_indices, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self.check_is_fitted()
        items = np.atleast_1d(np.asarray(item_indices, dtype=np.int64))
        scores = self.weights_[items].copy()
        scores[np.arange(len(items)), items] = -np.inf
        return top_n(scores, n)

    def _state(self) -> dict:
        return {"weights_": self.weights_, "profiles_": self.profiles_}
