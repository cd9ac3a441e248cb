"""EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"), closed form.

    P = (X^T X + lambda I)^-1;   B = I - P diag(1 / diag(P));   scores = x_u B

B has a zero diagonal, so an item never recommends itself. Cost: one dense m x m inverse,
i.e. O(m^3) time and about 3 * m^2 * 4 bytes of memory in float32 (m = 12k items: ~1.7 GB
peak and ~25 s on 2 cores; 20k: ~4.8 GB and ~2 min).

A catalogue over ``max_items`` (default 20,000) is, with ``past_max_items="components"``
(the default), solved per connected component of the item graph (``ease_blocks``): X^T X is
block diagonal over the components, so this is the same closed form over every item, not an
approximation. It applies when every component has at most ``max_items`` items and their
blocks hold at most ``max_items``^2 entries (the memory of the cut's B). Otherwise, or with
``past_max_items="cut"``, the catalogue is cut to its ``max_items`` most-interacted items,
which hold nearly all interactions in a long-tailed shop; the other items rank after every
modelled item, by popularity, so large catalogues still work instead of running out of memory.
``past_max_items="blocks"`` models every item instead: a component too large is cut into
pieces of at most ``max_items``^2 / n items (``ease_blocks.split_components``), each solved
exactly on its own, the links between pieces dropped; the blocks hold at most ``max_items``^2
weights, as the cut's B. It approximates EASE where the cut drops items; which loses less
depends on the shop (``benchmarks/ease_blocks.py``), so it is not the default.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.models.base import Recommender, top_n
from shelfwise.models.ease_blocks import BlockWeights, ease_weights, item_components, split_components
from shelfwise.models.live import LiveScoring
from shelfwise.models.params import Interval, Options
from shelfwise.models.profiles import user_profiles


class EASE(LiveScoring, Recommender):
    name = "ease"
    capabilities = frozenset({"similar_items", "live"})
    forgets_exactly = True
    _parameter_constraints = {
        "l2": Interval(float, 0, closed="neither"),
        "recency_decay": Interval(float, 0, 1, closed="right"),
        "max_items": Interval(int, 1),
        "past_max_items": Options(frozenset({"components", "blocks", "cut"})),
        "binary": Options(frozenset({True, False})),
    }

    def __init__(self, *, l2: float = 100.0, recency_decay: float = 0.7,
                 max_items: int = 20_000, past_max_items: str = "components", binary: bool = True):
        self.l2 = l2
        self.recency_decay = recency_decay
        self.max_items = max_items
        self.past_max_items = past_max_items
        self.binary = binary

    def _fit(self, interactions: Interactions) -> None:
        self._fit_items(interactions)
        self._keep_profiles(interactions)

    def _forget(self, users: np.ndarray, view: Interactions) -> None:
        # the Gram matrix (and so B) of the remaining shoppers' rows, solved again; the
        # modelled set follows the remaining counts, as in a fit without them
        self._fit_items(view.without_users(users, keep_rows=False))
        self._keep_profiles(view.without_users(users))

    def _keep_profiles(self, interactions: Interactions) -> None:
        profiles = user_profiles(interactions, self.recency_decay, binary=self.binary)
        self.profiles_ = profiles.tocsc()[:, self.kept_].tocsr() if len(self.tail_) else profiles

    def _fit_items(self, interactions: Interactions) -> None:
        """kept_, tail_ and B (weights_, or blocks_ per component) from the view's rows."""
        x = interactions.binary if self.binary else interactions.matrix
        self.blocks_ = None
        if x.shape[1] > self.max_items and self.past_max_items != "cut":
            labels = item_components(x)
            sizes = np.bincount(labels)
            fits = sizes.max(initial=0) <= self.max_items and (sizes.astype(np.int64) ** 2).sum() <= self.max_items ** 2
            if not fits and self.past_max_items == "blocks":
                # pieces of at most max_items^2 / n items: the blocks hold at most max_items^2
                # entries, the memory of the cut's B
                labels = split_components(x, labels, max(1, self.max_items ** 2 // x.shape[1]))
                fits = True
            if fits:
                self.kept_ = np.arange(x.shape[1])  # every item modelled
                self.tail_ = np.zeros(0, dtype=np.int64)
                self.blocks_ = BlockWeights.fit(x, labels, self.l2)
                self.weights_ = np.zeros((0, 0), dtype=np.float32)
                return
        counts = np.asarray(interactions.binary.sum(0)).ravel()  # (n_items,)
        # most-interacted first, ties by index: the modelled set, then the tail's order
        by_count = np.lexsort((np.arange(len(counts)), -counts))
        self.kept_ = np.sort(by_count[:self.max_items])  # (m,) modelled item indices
        self.tail_ = by_count[self.max_items:]  # (n_items - m,) the rest, most popular first
        if len(self.tail_):
            x = x.tocsc()[:, self.kept_].tocsr()
        self.weights_ = ease_weights((x.T @ x).toarray().astype(np.float32), self.l2)  # (m, m)

    def _times_b(self, profiles: sp.csr_matrix) -> np.ndarray:
        """(B, m) profiles over the modelled items times B."""
        if self.blocks_ is not None:
            return self.blocks_.times(profiles)
        return np.asarray(profiles @ self.weights_)

    def _expand(self, modelled: np.ndarray) -> np.ndarray:
        """(B, m) scores of the modelled items -> (B, n_items); unmodelled items get scores
        below every modelled one, higher for more popular items."""
        if not len(self.tail_):
            return modelled
        out = np.empty((len(modelled), self.n_items_), dtype=np.float32)
        out[:, self.kept_] = modelled
        floor = modelled.min(initial=0.0) - 1.0
        out[:, self.tail_] = floor - np.arange(len(self.tail_), dtype=np.float32) / len(self.tail_)
        return out

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        return self._expand(self._times_b(self.profiles_[user_indices]))

    def _score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        """Profiles over the whole catalogue: the unmodelled columns are dropped first."""
        if len(self.tail_):
            profiles = profiles.tocsc()[:, self.kept_].tocsr()
        return self._expand(self._times_b(profiles))

    def score_columns(self, item_indices) -> np.ndarray:
        """(n_users, k): profiles times the items' columns of B; an unmodelled item scores
        below every modelled one, as in ``_expand``."""
        self.check_is_fitted()
        items = np.atleast_1d(np.asarray(item_indices, dtype=np.int64))
        row = np.full(self.n_items_, -1, dtype=np.int64)
        row[self.kept_] = np.arange(len(self.kept_))
        out = np.full((self.n_users_, len(items)), -1.0, dtype=np.float32)
        modelled = row[items] >= 0
        if modelled.any() and self.blocks_ is not None:
            out[:, modelled] = self.blocks_.columns(self.profiles_, row[items[modelled]])
        elif modelled.any():
            out[:, modelled] = np.asarray(self.profiles_ @ self.weights_[:, row[items[modelled]]])
        return out

    def similar_items(self, item_indices, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        self.check_is_fitted()
        items = np.atleast_1d(np.asarray(item_indices, dtype=np.int64))
        row = np.full(self.n_items_, -1, dtype=np.int64)
        row[self.kept_] = np.arange(len(self.kept_))
        scores = np.zeros((len(items), len(self.kept_)), dtype=np.float32)
        modelled = row[items] >= 0  # an unmodelled item has no learned neighbours
        if self.blocks_ is not None:
            scores[modelled] = self.blocks_.rows(row[items[modelled]])
        else:
            scores[modelled] = self.weights_[row[items[modelled]]]
        scores = self._expand(scores)
        scores[np.arange(len(items)), items] = -np.inf
        return top_n(scores, n)

    def _state(self) -> dict:
        blocks = self.blocks_.state() if self.blocks_ is not None else {}
        return {"weights_": self.weights_, "profiles_": self.profiles_, "kept_": self.kept_,
                "tail_": self.tail_, **blocks}

    def _set_state(self, state: dict) -> None:
        blocks = {k: state.pop(k) for k in list(state) if k.startswith("blocks_")}
        super()._set_state(state)
        self.blocks_ = BlockWeights.from_state(blocks) if blocks else None
