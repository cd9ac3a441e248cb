"""Catalogue columns as arrays over dense item indices, shared by rules, diversity and bandits.

The catalogue is ``Interactions.items``: a frame in item-index order whose ``category`` cell is
a path from the root (a list such as ``["Beauty", "Skin care", "serum"]``; missing = no path).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SEP = " > "


def category_paths(catalogue: pd.DataFrame | None, n_items: int) -> list[tuple[str, ...]]:
    """(n_items,) list of category paths as tuples; () where the catalogue says nothing."""
    if catalogue is None or "category" not in catalogue:
        return [()] * n_items
    return [tuple(str(p) for p in c) if isinstance(c, list | tuple | np.ndarray) else ()
            for c in catalogue["category"].tolist()]


def category_codes(catalogue: pd.DataFrame | None, n_items: int,
                   depth: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each item's category cut to its first ``depth`` levels (None = the full path).

    Returns (codes int64 (n_items,), names object (n_categories,)); code -1 = no category.
    """
    keys = [SEP.join(p[:depth] if depth else p) for p in category_paths(catalogue, n_items)]
    codes, names = pd.factorize(pd.Series(keys).replace("", None), use_na_sentinel=True)
    return codes.astype(np.int64), np.asarray(names, dtype=object)


def column_codes(catalogue: pd.DataFrame | None, n_items: int, column: str) -> np.ndarray:
    """(n_items,) int64 factor codes of one catalogue column (e.g. ``brand``); -1 where missing."""
    if catalogue is None or column not in catalogue:
        return np.full(n_items, -1, dtype=np.int64)
    codes, _ = pd.factorize(catalogue[column], use_na_sentinel=True)
    return codes.astype(np.int64)


def matches_paths(paths: list[tuple[str, ...]], prefixes: list[str]) -> np.ndarray:
    """(n_items,) bool: the item's path starts with one of ``prefixes``.

    A prefix is a path from the root written with ``>`` between levels, e.g. ``"Beauty"`` or
    ``"Beauty > Skin care"``; matching is exact per level after trimming spaces.
    """
    wanted = {tuple(p.strip() for p in s.split(">") if p.strip()) for s in prefixes}
    depths = sorted({len(w) for w in wanted})
    return np.array([any(p[:d] in wanted for d in depths if d <= len(p)) for p in paths], dtype=bool)


def text_matches(catalogue: pd.DataFrame | None, n_items: int, query: str) -> np.ndarray:
    """(n_items,) bool: the item's title, description, category or brand holds every word."""
    words = [w for w in query.lower().split() if w]
    if catalogue is None or not words:
        return np.zeros(n_items, dtype=bool)
    text = pd.Series([""] * n_items)
    for col in ("title", "description", "brand"):
        if col in catalogue:
            text = text + " " + catalogue[col].fillna("").astype(str).str.lower()
    text = text + " " + pd.Series([" ".join(p).lower() for p in category_paths(catalogue, n_items)])
    ok = np.ones(n_items, dtype=bool)
    for w in words:
        ok &= text.str.contains(w, regex=False).to_numpy()
    return ok

