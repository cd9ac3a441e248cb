"""The item x item Gram matrix x^T x one block of rows at a time.

Item-kNN and association rules keep only the top k entries of each row of x^T x, so they
never need the whole product: on a big catalogue its entries (every co-occurring pair) can
outnumber the kept ones by orders of magnitude. ``gram_row_blocks`` hands out consecutive
row blocks of x^T x whose size is bounded by ``max_entries``, so the caller can reduce each
block to its top k before the next one is computed; peak memory is then about one block
plus the kept entries, not nnz(x^T x).

Each block is computed as the same sparse product on the same operands as the whole
``x.tocsc().T @ x.tocsc()`` (scipy's csr_matmat: row i of the product accumulates over
row i of x^T in the same order), so every entry has the same float32 bits as in the whole
product.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp

#: default bound on the entries of one block (an upper bound counted before the product):
#: 4M entries of a few dozen bytes each while a block is reduced, a few hundred MB at most
MAX_BLOCK_ENTRIES = 1 << 22


def row_entry_bounds(xc: sp.csc_matrix, xr: sp.csr_matrix) -> np.ndarray:
    """(n_cols,) int64 upper bound on the entries of each row of x^T x, given x as csc and
    as csr: row i has at most one entry per column that a row of x touching column i also
    touches, and at most n_cols."""
    row_len = np.diff(xr.indptr).astype(np.int64)  # (n_rows,) entries per row of x
    # sum, over the rows touching column i, of their lengths
    cum = np.concatenate([[0], np.cumsum(row_len[xc.indices])])
    return np.minimum(cum[xc.indptr[1:]] - cum[xc.indptr[:-1]], xc.shape[1])


def block_bounds(entries: np.ndarray, max_entries: int) -> list[tuple[int, int]]:
    """Consecutive [start, stop) ranges over ``entries`` (per-row counts) whose sums stay at
    or under ``max_entries``; a row that alone exceeds it is a block of its own."""
    cum = np.concatenate([[0], np.cumsum(entries)])
    out, start, n = [], 0, len(entries)
    while start < n:
        stop = int(np.searchsorted(cum, cum[start] + max_entries, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        out.append((start, stop))
        start = stop
    return out


def gram_row_blocks(x: sp.spmatrix, max_entries: int | None = None) -> Iterator[tuple[int, sp.csr_matrix]]:
    """Yield (start, block): block = rows start:start+len of x^T x, csr (len, n_cols), for
    consecutive blocks covering every row; x is (n_rows, n_cols). ``max_entries``: the bound
    on a block's entries, ``MAX_BLOCK_ENTRIES`` (read at call time) by default."""
    max_entries = MAX_BLOCK_ENTRIES if max_entries is None else max_entries
    xc = sp.csc_matrix(x)
    xt = xc.T  # csr (n_cols, n_rows) sharing xc's arrays: row i = column i of x
    xr = xc.tocsr()  # the right operand, as scipy converts it for ``xc.T @ xc``
    for start, stop in block_bounds(row_entry_bounds(xc, xr), max_entries):
        yield start, sp.csr_matrix(xt[start:stop] @ xr)


def top_k_gram(x: sp.spmatrix, reduce, max_entries: int | None = None) -> sp.csr_matrix:
    """(n_cols, n_cols) csr: ``reduce(start, block)`` over every row block of x^T x
    (``gram_row_blocks``), stacked. ``reduce`` returns the csr (len, n_cols) to keep of the
    block, usually its top k per row, so only the kept entries accumulate."""
    n = x.shape[1]
    kept = [reduce(start, block) for start, block in gram_row_blocks(x, max_entries)]
    if not kept:
        return sp.csr_matrix((n, n), dtype=np.float32)
    return sp.vstack(kept, format="csr")
