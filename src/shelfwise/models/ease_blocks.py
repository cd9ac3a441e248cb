"""EASE's weights block by block, over the connected components of the item graph.

Items i and j are linked when some shopper touched both (G = X^T X has G[i, j] > 0); the
connected components of that graph split G into diagonal blocks, every entry outside them
being 0. Then (G + lambda I)^-1 is block diagonal with the same blocks, diag(P) is read
block by block, and so is B = I - P diag(1 / diag(P)): EASE solved per component is EASE's
exact closed form on the whole catalogue, at the cost of the blocks only (sum of s^2
entries, s = a component's items) instead of n^2. Shop logs where most shoppers touch a
few items split into many small components (Taobao's 2-hour slice: 84,793 items, largest
component 14,518; its leave-one-out training part: 68,612 items, largest 2,427).

Components of at most ``SMALL`` items are solved in packs (a pack's matrix is block
diagonal too) and kept as one sparse matrix; larger ones keep a dense (s, s) block each.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import svds

#: components up to this size are packed together and kept sparse
SMALL = 256


def ease_weights(gram: np.ndarray, l2: float) -> np.ndarray:
    """B (m, m) float32, C order, zero diagonal, from a dense Gram matrix (m, m) float32
    (overwritten): B = I - P diag(1 / diag(P)), P = (G + l2 I)^-1."""
    gram[np.diag_indices(len(gram))] += l2
    # P = G^-1 via Cholesky: G is symmetric positive definite, and this halves the flops
    c, low = scipy.linalg.cho_factor(gram, overwrite_a=True, check_finite=False)
    p = scipy.linalg.cho_solve((c, low), np.eye(len(gram), dtype=np.float32), overwrite_b=True,
                               check_finite=False)
    del c, gram
    b = p / -np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    # C order: scoring reads whole rows of B; LAPACK hands back Fortran order
    return np.ascontiguousarray(b, dtype=np.float32)  # B[i, j]: i recommends j


def item_components(x: sp.spmatrix) -> np.ndarray:
    """(n_items,) component label of each item of x (n_users, n_items): the components of
    the shopper-item graph, which link the same items as G = X^T X does."""
    x = sp.csr_matrix(x)
    adjacency = sp.bmat([[None, x], [x.T, None]], format="csr")  # (n_users + n_items) square
    _, labels = connected_components(adjacency, directed=False)
    _, dense = np.unique(labels[x.shape[0]:], return_inverse=True)  # items' labels, 0..k-1
    return dense.ravel()


def split_components(x: sp.spmatrix, labels: np.ndarray, limit: int, dim: int = 32) -> np.ndarray:
    """(n_items,) block labels: the components ``labels`` (n_items,) of x (n_users, n_items),
    each one larger than ``limit`` items cut into pieces of at most ``limit`` by recursive
    spectral bisection. An item's place is its row of the component's top ``dim`` right
    singular vectors (scaled by the singular values, rows normalised: items bought by the
    same shoppers lie close); a piece over ``limit`` is split at the median of its
    projection on its own first principal axis, so the halves are balanced. Links between
    pieces are dropped: EASE on such blocks approximates EASE on the component.
    Deterministic (svds starts from a fixed vector)."""
    xc = sp.csc_matrix(x, dtype=np.float64)
    out = labels.astype(np.int64).copy()
    next_label = int(out.max(initial=-1)) + 1
    for c in np.flatnonzero(np.bincount(labels) > limit):
        comp = np.flatnonzero(labels == c)
        sub = xc[:, comp]
        k = max(1, min(dim, min(sub.shape) - 1))
        v0 = np.ones(min(sub.shape))
        _, s, vt = svds(sub, k=k, v0=v0, solver="arpack")
        emb = vt.T * s  # (|comp|, k)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12
        pieces, stack = [], [np.arange(len(comp))]
        while stack:
            piece = stack.pop()
            if len(piece) <= limit:
                pieces.append(piece)
                continue
            e = emb[piece] - emb[piece].mean(0)
            axis = np.linalg.svd(e, full_matrices=False)[2][0]  # first principal axis
            order = np.argsort(e @ axis, kind="stable")
            half = len(piece) // 2
            stack += [piece[order[:half]], piece[order[half:]]]
        for j, piece in enumerate(pieces):
            out[comp[piece]] = c if j == 0 else next_label
            next_label += j > 0
    _, dense = np.unique(out, return_inverse=True)
    return dense.ravel()


class BlockWeights:
    """B in block-diagonal form over ``m`` items: ``small`` csr (m, m) holds the blocks of the
    small components; ``items[c]`` (s,) and ``dense[c]`` (s, s) each large component's."""

    def __init__(self, small: sp.csr_matrix, items: list[np.ndarray], dense: list[np.ndarray]):
        self.small, self.items, self.dense = small, items, dense

    @classmethod
    def fit(cls, x: sp.spmatrix, labels: np.ndarray, l2: float) -> BlockWeights:
        """From x (n_users, m) and the items' component labels (m,)."""
        xc = sp.csc_matrix(x, dtype=np.float32)
        m = xc.shape[1]
        order = np.argsort(labels, kind="stable")  # items grouped by component, ascending within
        sizes = np.bincount(labels)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        items, dense, packs, pack = [], [], [], []
        for c, s in enumerate(sizes):
            comp = order[bounds[c]:bounds[c + 1]]
            if s > SMALL:
                items.append(comp)
                dense.append(ease_weights((xc[:, comp].T @ xc[:, comp]).toarray(), l2))
                continue
            if sum(map(len, pack)) + s > SMALL:
                packs.append(pack)
                pack = []
            pack.append(comp)
        packs.append(pack)
        rows, cols, vals = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
        for pack in packs:
            if not pack:
                continue
            its = np.concatenate(pack)
            b = ease_weights((xc[:, its].T @ xc[:, its]).toarray(), l2)
            same = labels[its][:, None] == labels[its][None, :]  # the pack's own blocks only
            i, j = np.nonzero(same & (b != 0))
            rows.append(its[i])
            cols.append(its[j])
            vals.append(b[i, j])
        small = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                              shape=(m, m), dtype=np.float32)
        return cls(small, items, dense)

    def times(self, profiles: sp.csr_matrix) -> np.ndarray:
        """profiles (B, m) csr @ B -> (B, m) float32."""
        out = (profiles @ self.small).toarray().astype(np.float32, copy=False)
        pc = profiles.tocsc()
        for its, w in zip(self.items, self.dense, strict=True):
            out[:, its] += np.asarray(pc[:, its] @ w)
        return out

    def rows(self, r: np.ndarray) -> np.ndarray:
        """Rows ``r`` of B: (len(r), m) float32."""
        out = self.small[r].toarray()
        where = np.full(self.small.shape[0], -1, dtype=np.int64)  # item -> its large block
        pos = np.zeros(self.small.shape[0], dtype=np.int64)  # item -> its place in that block
        for c, its in enumerate(self.items):
            where[its], pos[its] = c, np.arange(len(its))
        for k, i in enumerate(r):
            if where[i] >= 0:
                out[k, self.items[where[i]]] = self.dense[where[i]][pos[i]]
        return out

    def columns(self, profiles: sp.csr_matrix, cols: np.ndarray) -> np.ndarray:
        """profiles (B, m) @ B[:, cols] -> (B, len(cols)) float32."""
        out = (profiles @ self.small[:, cols]).toarray().astype(np.float32, copy=False)
        pc = profiles.tocsc()
        for its, w in zip(self.items, self.dense, strict=True):
            hit = np.isin(cols, its)
            if hit.any():
                out[:, hit] += np.asarray(pc[:, its] @ w[:, np.searchsorted(its, cols[hit])])
        return out

    def state(self) -> dict:
        """Arrays to save: the large blocks flattened one after another."""
        flat = [w.ravel() for w in self.dense]
        return {"blocks_small_": self.small,
                "blocks_sizes_": np.array([len(i) for i in self.items], dtype=np.int64),
                "blocks_items_": np.concatenate(self.items) if self.items else np.zeros(0, np.int64),
                "blocks_dense_": np.concatenate(flat) if flat else np.zeros(0, np.float32)}

    @classmethod
    def from_state(cls, state: dict) -> BlockWeights:
        sizes = state["blocks_sizes_"]
        items = np.split(state["blocks_items_"], np.cumsum(sizes)[:-1]) if len(sizes) else []
        offsets = np.concatenate([[0], np.cumsum(sizes.astype(np.int64) ** 2)])
        dense = [state["blocks_dense_"][offsets[c]:offsets[c + 1]].reshape(s, s) for c, s in enumerate(sizes)]
        return cls(state["blocks_small_"].tocsr(), items, dense)
