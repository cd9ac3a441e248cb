"""Neighbourhood models: item-based and user-based k-nearest neighbours.

ItemKNN (Sarwar et al. 2001; Deshpande & Karypis 2004): cosine similarity between item
columns of the user x item matrix, shrunk towards zero for items with little support
(Koren 2008), each item keeping its ``k`` nearest neighbours. With ``weighting="bm25"`` the
matrix is first BM25-weighted (as ``implicit``'s BM25Recommender), which damps heavy users
and very popular items.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.models.base import Recommender, zero_rows
from shelfwise.models.gram import top_k_gram
from shelfwise.models.item_similarity import ItemSimilarityRecommender
from shelfwise.models.params import Interval, Options
from shelfwise.models.profiles import keep_top_k_per_row, user_profiles


def bm25_weight(x: sp.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25 weighting of a (n_users, n_items) matrix, items as terms and users as documents."""
    x = sp.coo_matrix(x, dtype=np.float32)
    n_users = x.shape[0]
    idf = np.log(n_users / (1.0 + np.bincount(x.col, minlength=x.shape[1])))
    row_sums = np.ravel(x.sum(axis=1))
    length_norm = (1.0 - b) + b * row_sums / row_sums.mean()
    data = x.data * (k1 + 1.0) / (k1 * length_norm[x.row] + x.data) * idf[x.col]
    return sp.csr_matrix((data.astype(np.float32), (x.row, x.col)), shape=x.shape)


def _prepare(interactions: Interactions, weighting: str, binary: bool) -> sp.csr_matrix:
    x = interactions.binary if binary else interactions.matrix
    return bm25_weight(x) if weighting == "bm25" else x.astype(np.float32)


def cosine_neighbours(x: sp.csr_matrix, k: int, shrink: float,
                      max_block_entries: int | None = None) -> sp.csr_matrix:
    """(n_cols, n_cols) shrunk cosine similarity between the columns of ``x``, top ``k`` per
    row, no self-similarity. ``sim = x_i . x_j / (|x_i| |x_j| + shrink)``.

    x^T x is computed a block of rows at a time (``gram.top_k_gram``) and each block cut to
    its top k before the next, so memory is one block plus n_cols * k entries; the result
    has the same entries and bits as cutting the whole product."""
    xc = x.tocsc()
    norms = _column_norms(xc)

    def reduce(start: int, dots: sp.csr_matrix) -> sp.csr_matrix:
        dots = dots.tocoo()
        rows = dots.row + start  # the block's rows in x^T x
        off = rows != dots.col
        sim = _shrunk_cosine(rows[off], dots.col[off], dots.data[off], norms, shrink, dots.shape,
                             row_offset=start)
        return keep_top_k_per_row(sim, k)

    return top_k_gram(xc, reduce, max_block_entries)


def _column_norms(xc: sp.csc_matrix) -> np.ndarray:
    return np.sqrt(np.asarray(xc.multiply(xc).sum(axis=0)).ravel())


def _shrunk_cosine(rows, cols, dots, norms, shrink: float, shape, row_offset: int = 0) -> sp.csr_matrix:
    """csr float32 of ``dots / (norms[rows] norms[cols] + shrink)`` at (rows - row_offset,
    cols): one arithmetic for a fit and for forgetting, so both give the same bits."""
    denom = norms[rows] * norms[cols] + shrink
    return sp.csr_matrix((dots / np.maximum(denom, 1e-12), (rows - row_offset, cols)), shape=shape,
                         dtype=np.float32)


def forget_neighbours(old: sp.csr_matrix, x: sp.csr_matrix, touched: np.ndarray, k: int,
                      shrink: float) -> sp.csr_matrix:
    """``cosine_neighbours(x, k, shrink)`` from ``old``, the same built on ``x`` plus the rows of
    forgotten shoppers, who touched the items ``touched`` (1-D, sorted, unique); x (n_users,
    n_items) holds the remaining shoppers only.

    Only entries in the rows and columns of ``touched`` change (their co-occurrences and
    norms): those rows are recomputed whole, from the columns of ``touched`` in x^T x (their
    transposes give the new entries of every other row in those columns). Every other row
    keeps its old entries elsewhere: an entry it dropped cannot come back, since its entries
    in ``touched`` only grow (the same co-occurrences over smaller norms, rounding being
    monotone), so its k-th value does not fall, and an entry that lost a tie at the k-th
    value to a lower item index loses it again."""
    xc = x.tocsc()
    n = old.shape[0]
    norms = _column_norms(xc)
    is_touched = np.zeros(n, dtype=bool)
    is_touched[touched] = True
    dots = (xc[:, touched].T @ xc).tocoo()  # rows ``touched`` of x^T x: (len(touched), n)
    r = touched[dots.row]
    off = r != dots.col
    whole = _shrunk_cosine(r[off], dots.col[off], dots.data[off], norms, shrink, (n, n)).tocoo()
    old = old.tocoo()
    keep = ~is_touched[old.row] & ~is_touched[old.col]
    inside = ~is_touched[whole.col]  # (touched row, other column) read as (other row, touched column)
    rows = np.concatenate([old.row[keep], whole.row, whole.col[inside]])
    cols = np.concatenate([old.col[keep], whole.col, whole.row[inside]])
    vals = np.concatenate([old.data[keep], whole.data, whole.data[inside]])
    return keep_top_k_per_row(sp.csr_matrix((vals, (rows, cols)), shape=(n, n), dtype=np.float32), k)


class ItemKNN(ItemSimilarityRecommender):
    """Item-based kNN. Scores = user profile (recency-weighted) x item-item similarity."""

    name = "itemknn"
    _parameter_constraints = {
        "k": Interval(int, 1), "shrink": Interval(float, 0),
        "weighting": Options(frozenset({"cosine", "bm25"})),
        "recency_decay": Interval(float, 0, 1, closed="right"),
        "binary": Options(frozenset({True, False})),
    }

    def __init__(self, *, k: int = 100, shrink: float = 10.0, weighting: str = "cosine",
                 recency_decay: float = 0.7, binary: bool = True):
        self.k = k
        self.shrink = shrink
        self.weighting = weighting
        self.recency_decay = recency_decay
        self.binary = binary

    def _build_similarity(self, interactions: Interactions) -> sp.spmatrix:
        # row i lists the k items most similar to i: profile @ similarity sums over them
        return cosine_neighbours(_prepare(interactions, self.weighting, self.binary),
                                 self.k, self.shrink)

    def _forget(self, users: np.ndarray, view: Interactions) -> None:
        if self.weighting != "cosine":  # BM25 weights every row by all shoppers: build it again
            return super()._forget(users, view)
        # cosine: only the items the shoppers touched change; the rest is subtracted in place
        touched = np.unique(view.matrix[users].indices)
        x = _prepare(view.without_users(users, keep_rows=False), self.weighting, self.binary)
        self.similarity_ = forget_neighbours(self.similarity_, x, touched, self.k, self.shrink)
        self.profiles_ = zero_rows(self.profiles_, users)


class UserKNN(Recommender):
    """User-based kNN: a user's scores are the similarity-weighted rows of their ``k``
    nearest neighbours (cosine on the user x item matrix, shrunk)."""

    name = "userknn"
    forgets_exactly = True
    _parameter_constraints = {
        "k": Interval(int, 1), "shrink": Interval(float, 0),
        "weighting": Options(frozenset({"cosine", "bm25"})),
        "binary": Options(frozenset({True, False})),
    }

    def __init__(self, *, k: int = 100, shrink: float = 10.0, weighting: str = "cosine",
                 binary: bool = True):
        self.k = k
        self.shrink = shrink
        self.weighting = weighting
        self.binary = binary

    def _fit(self, interactions: Interactions) -> None:
        self._keep_matrix(_prepare(interactions, self.weighting, self.binary))

    def _keep_matrix(self, x: sp.csr_matrix) -> None:
        self.matrix_ = x  # (n_users, n_items) what neighbours contribute
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        self.norms_ = norms.astype(np.float32)

    def _forget(self, users: np.ndarray, view: Interactions) -> None:
        # their rows go, so they are nobody's neighbour; BM25 weights the remaining rows
        # by the remaining shoppers, as a fit without them would
        remaining = np.setdiff1d(np.arange(self.n_users_), users)
        x = _prepare(view.without_users(users, keep_rows=False), self.weighting, self.binary).tocoo()
        self._keep_matrix(sp.csr_matrix((x.data, (remaining[x.row], x.col)), shape=self.matrix_.shape,
                                        dtype=np.float32))

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        x = self.matrix_
        dots = (x[user_indices] @ x.T).tocsr()  # (B, n_users)
        coo = dots.tocoo()
        sims = coo.data / (self.norms_[user_indices][coo.row] * self.norms_[coo.col]
                           + self.shrink + 1e-12)
        sims[coo.col == user_indices[coo.row]] = 0.0  # a user is not their own neighbour
        sim = keep_top_k_per_row(
            sp.csr_matrix((sims.astype(np.float32), (coo.row, coo.col)), shape=dots.shape),
            self.k)
        return (sim @ x).toarray()

    def _state(self) -> dict:
        return {"matrix_": self.matrix_, "norms_": self.norms_}


__all__ = ["ItemKNN", "UserKNN", "bm25_weight", "cosine_neighbours", "user_profiles"]
