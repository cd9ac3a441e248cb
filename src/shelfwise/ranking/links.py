"""Which items of a shopper's live history give a neighbour model its score for an item.

Item-kNN and rules score ``profile @ similarity_``, content models the profile-weighted mean
item vector dotted with the item's vector, so the live score of item ``i`` splits exactly into
one term per history item ``j``:

    itemknn, rules:  w_j * similarity_[j, i]
    content:         (w_j / sum(w)) * (v_j . v_i)

where ``w`` is the shopper's profile built as the model builds it at serving time
(``LiveScoring.score_histories``: the behaviour weights and recency decay of its fit), from
the events the shopper has now, not from the model's training-time profile.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shelfwise.models.profiles import history_profiles
from shelfwise.ranking.features import Histories


def has_links(model) -> bool:
    """Whether ``model`` scores through item-to-item links that ``HistoryLinks`` can split."""
    return hasattr(model, "_profile_options") and (
        hasattr(model, "similarity_") or hasattr(model, "item_vectors_"))


class HistoryLinks:
    """The terms of one shopper's live scores under one neighbour model.

    model: fitted, with ``similarity_`` (n_items, n_items) or ``item_vectors_`` (n_items, d);
    hist: one shopper's events (item indices of the model's view), oldest first."""

    def __init__(self, model, hist: Histories):
        decay, binary = model._profile_options()
        prof = history_profiles([hist.items], [hist.types], [hist.times], model.type_weights_,
                                model.n_items_, recency_decay=decay, binary=binary)
        self.items = prof.indices.astype(np.int64)  # (k,) history items with a positive weight
        w = prof.data.astype(np.float64)  # (k,)
        sim = getattr(model, "similarity_", None)
        if sim is not None:
            self.weights, self._rows, self._vectors = w, sim[self.items].tocsc(), None
        else:  # content: the profile is a weighted mean of item vectors
            vectors = model.item_vectors_
            self.weights = w / w.sum() if len(w) else w
            self._rows, self._vectors = vectors[self.items], vectors

    def terms(self, i: int) -> np.ndarray:
        """(k,) each history item's term of item ``i``'s live score (``self.items`` order)."""
        if not len(self.items):
            return np.zeros(0)
        if self._vectors is None:  # column i of the CSC rows, read from its arrays (no new matrix)
            rows = self._rows
            a, b = rows.indptr[i], rows.indptr[i + 1]
            link = np.zeros(len(self.items))
            link[rows.indices[a:b]] = rows.data[a:b]
        else:
            link = self._rows @ self._vectors[i].T
            link = link.toarray().ravel() if sp.issparse(link) else np.asarray(link).ravel()
        return self.weights * link

    def top(self, i: int, n: int = 3) -> list[tuple[int, float]]:
        """The ``n`` history items with the largest positive terms for item ``i``:
        [(history item index, term)], largest first, ties by lower item index."""
        t = self.terms(i)
        order = np.argsort(-t, kind="stable")[:n]
        return [(int(self.items[k]), float(t[k])) for k in order if t[k] > 0]
