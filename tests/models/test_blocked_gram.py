"""Item-kNN and association rules build x^T x a block of rows at a time and cut each block
to its top k at once: the result is bit for bit the one of the whole product cut afterwards
(the implementation before blocks, copied below as the known answer), on a real log
(UCI Online Retail, Germany), with blocks small enough that there are hundreds of them."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_online_retail
from shelfwise.models import create
from shelfwise.models.gram import block_bounds, gram_row_blocks
from shelfwise.models.knn import _column_norms, _prepare, _shrunk_cosine, cosine_neighbours
from shelfwise.models.profiles import keep_top_k_per_row
from shelfwise.models.rules import basket_matrix


def whole_cosine_neighbours(x: sp.csr_matrix, k: int, shrink: float) -> sp.csr_matrix:
    """``cosine_neighbours`` before blocks: the whole x^T x, then its top k per row."""
    xc = x.tocsc()
    norms = _column_norms(xc)
    dots = (xc.T @ xc).tocoo()
    off = dots.row != dots.col
    return keep_top_k_per_row(_shrunk_cosine(dots.row[off], dots.col[off], dots.data[off], norms, shrink,
                                             dots.shape), k)


def whole_rules(baskets: sp.csr_matrix, min_count: int, metric: str, max_rules: int):
    """``AssociationRules._rules`` before blocks (min_confidence 0): (rules, counts of every pair)."""
    n_baskets = max(baskets.shape[0], 1)
    item_count = np.asarray(baskets.sum(axis=0)).ravel()
    pair = (baskets.T @ baskets).tocoo()
    keep = (pair.row != pair.col) & (pair.data >= min_count)
    i, j, c = pair.row[keep], pair.col[keep], pair.data[keep].astype(np.float64)
    confidence = c / item_count[i]
    value = confidence if metric == "confidence" else confidence / (item_count[j] / n_baskets)
    rules = sp.csr_matrix((value, (i, j)), shape=pair.shape, dtype=np.float32)
    return keep_top_k_per_row(rules, max_rules), sp.csr_matrix((c, (i, j)), shape=pair.shape)


def _same_bits(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    a, b = a.tocsr(), b.tocsr()
    assert a.shape == b.shape and a.dtype == b.dtype == np.float32
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.data.view(np.uint32), b.data.view(np.uint32))  # same float32 bits


@pytest.fixture(scope="module")
def retail(data_dir) -> Interactions:
    return Interactions.from_events(load_online_retail(data_dir / "online-retail/germany.csv").events)


def test_blocks_cover_every_row_within_the_bound():
    entries = np.array([3, 1, 9, 2, 2, 0, 4])
    blocks = block_bounds(entries, 4)
    assert blocks == [(0, 2), (2, 3), (3, 6), (6, 7)]  # row 2 (9 > 4) alone; sums 4, 9, 4, 4
    x = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 1, 0], [1, 1, 0, 0]], dtype=np.float32))
    parts = [(start, b) for start, b in gram_row_blocks(x, max_entries=3)]
    assert len(parts) > 1
    stacked = sp.vstack([b for _, b in parts]).toarray()
    np.testing.assert_array_equal(stacked, (x.T @ x).toarray())


@pytest.mark.parametrize(("weighting", "binary", "k"), [("cosine", True, 20), ("bm25", False, 5)])
def test_blocked_item_knn_equals_the_whole_product_bit_for_bit(retail, weighting, binary, k):
    x = _prepare(retail, weighting, binary)
    whole = whole_cosine_neighbours(x, k, 10.0)
    blocked = cosine_neighbours(x, k, 10.0, max_block_entries=5_000)
    assert len(list(gram_row_blocks(x, 5_000))) > 100  # many blocks, so the cut happens inside them
    _same_bits(blocked, whole)
    # the model's own matrix (default block bound: one block on this log) is the same too
    model = create("itemknn", k=k, weighting=weighting, binary=binary).fit(retail)
    _same_bits(model.similarity_, whole)


@pytest.mark.parametrize("metric", ["confidence", "lift"])
def test_blocked_rules_equal_the_whole_product(retail, metric, monkeypatch):
    import shelfwise.models.gram as gram

    monkeypatch.setattr(gram, "MAX_BLOCK_ENTRIES", 5_000)  # read at call time: hundreds of blocks
    model = create("rules", min_count=2, metric=metric, max_rules=10).fit(retail)
    baskets = basket_matrix(retail, True, model.basket_types_)
    rules, counts = whole_rules(baskets, 2, metric, 10)
    _same_bits(model.similarity_, rules)
    # the co-occurrence counts of every pair past min_count, as before
    _same_bits(model.rule_stats_, counts.astype(np.float32))
