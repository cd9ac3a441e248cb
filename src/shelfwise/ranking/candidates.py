"""Candidate retrieval from several recommenders, merged per shopper with provenance.

A retriever list is ``[(model_name_or_fitted_model, budget), ...]``: a registry name
(``shelfwise.models.MODELS``) is created with its defaults and fitted here; a fitted model
is used as given. Each retriever proposes its top ``budget`` items per shopper, after the
exclusion mask (``ranking.exclusion``) when one is given. The proposals are merged into one
row per (shopper, item) that records, for every retriever r, the score it gave and the rank
(1-based) it put the item at; a retriever that did not propose the item has score NaN and
rank ``budget_r + 1``, the first rank past its list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.ranking.exclusion import drop_excluded

if TYPE_CHECKING:  # models import this package's hybrid: import them only when used
    from shelfwise.models.base import Recommender


@dataclass(frozen=True)
class Candidates:
    """Merged candidates of a batch of shoppers, grouped by shopper (batch order).

    Within a shopper, rows are ordered by the best rank any retriever gave, then item index.
    """

    users: np.ndarray  # (m,) int64 user index of each candidate row
    items: np.ndarray  # (m,) int64 item index
    scores: np.ndarray  # (m, R) float32 score per retriever, NaN = not proposed by it
    ranks: np.ndarray  # (m, R) int32 1-based rank per retriever, budget_r + 1 = not proposed
    indptr: np.ndarray  # (B + 1,) int64: rows of the b-th batch shopper are indptr[b]:indptr[b+1]
    retrievers: tuple[str, ...]  # (R,) names, unique (a repeated model name gets "#2", ...)
    budgets: np.ndarray  # (R,) int64

    def __len__(self) -> int:
        return len(self.items)

    @property
    def proposed(self) -> np.ndarray:
        """(m, R) bool: which retrievers proposed each candidate."""
        return ~np.isnan(self.scores)

    def of(self, b: int) -> slice:
        """The rows of the ``b``-th shopper of the batch."""
        return slice(int(self.indptr[b]), int(self.indptr[b + 1]))


def fit_retrievers(specs: Sequence[tuple[str | Recommender, int]],
                   interactions: Interactions) -> list[tuple[str, Recommender, int]]:
    """Resolve a retriever list: (unique name, fitted model, budget) per entry.

    A name is created with the registry defaults and fitted on ``interactions``; a model
    instance is used as given (it must be fitted on the same index spaces).
    """
    from shelfwise.models import create
    from shelfwise.models.base import Recommender

    out, names = [], set()
    for pos, spec in enumerate(specs):
        if not (isinstance(spec, tuple | list) and len(spec) == 2):
            raise ValueError(f"retriever {pos} must be (model name or fitted model, budget). "
                             f"Got {spec!r} instead.")
        model, budget = spec
        if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 1:
            raise ValueError(f"The budget of retriever {pos} must be an int >= 1. "
                             f"Got {budget!r} instead.")
        if isinstance(model, str):
            model = create(model).fit(interactions)
        elif not isinstance(model, Recommender):
            raise ValueError(f"retriever {pos} must be a model name or a Recommender. "
                             f"Got {type(model).__name__} instead.")
        model.check_is_fitted()
        if (model.n_users_, model.n_items_) != (interactions.n_users, interactions.n_items):
            raise ValueError(f"retriever {pos} ({model.name}) was fitted on "
                             f"{model.n_users_} users x {model.n_items_} items, not on these "
                             f"{interactions.n_users} x {interactions.n_items}.")
        name, k = model.name, 2
        while name in names:
            name, k = f"{model.name}#{k}", k + 1
        names.add(name)
        out.append((name, model, int(budget)))
    return out


def retrieve(retrievers: Sequence[tuple[str, Recommender, int]], user_indices,
             exclude: sp.csr_matrix | None = None) -> Candidates:
    """Candidates for a batch of shoppers from fitted retrievers (see ``fit_retrievers``).

    exclude: boolean csr_matrix (n_users, n_items) of items never to propose (e.g.
    ``exclusion_mask``); None = each model's own ``exclude_seen=True``.
    """
    if not retrievers:
        raise ValueError("retrieve needs at least one retriever")
    users = np.atleast_1d(np.asarray(user_indices, dtype=np.int64))
    n_items = retrievers[0][1].n_items_
    # the most items any batch shopper has excluded: fetch that many extra so that each
    # retriever still fills its budget after the mask
    extra = int(np.diff(exclude[users].indptr).max(initial=0)) if exclude is not None else 0
    lists = []
    for _, model, budget in retrievers:
        n = min(budget + extra, n_items)
        items, scores = model.recommend(users, n=n, exclude_seen=exclude is None)
        if exclude is not None:
            items, scores = drop_excluded(items, scores, users, exclude, budget)
        lists.append((items[:, :budget], scores[:, :budget]))
    return merge_lists(users, lists, [name for name, _, _ in retrievers],
                       [budget for _, _, budget in retrievers], n_items)


def merge_lists(users: np.ndarray, lists: Sequence[tuple[np.ndarray, np.ndarray]],
                names: Sequence[str], budgets: Sequence[int], n_items: int) -> Candidates:
    """Merge per-retriever top lists into ``Candidates``.

    users (B,) int64; lists[r] = (items int64 (B, <= budget_r), scores (B, <= budget_r)),
    best first, -1 = padding; names and budgets (R,).
    """
    B, R = len(users), len(lists)
    rows, cols, rets, scs, rks = [], [], [], [], []
    for r, (items, scores) in enumerate(lists):
        b, pos = np.nonzero(items >= 0)
        rows.append(b)
        cols.append(items[b, pos])
        rets.append(np.full(len(b), r))
        scs.append(scores[b, pos])
        rks.append(pos + 1)
    b, item, ret = np.concatenate(rows), np.concatenate(cols), np.concatenate(rets)
    score, rank = np.concatenate(scs), np.concatenate(rks)

    key = b.astype(np.int64) * n_items + item
    uniq, inv = np.unique(key, return_inverse=True)
    budgets = np.asarray(budgets, dtype=np.int64)
    out_scores = np.full((len(uniq), R), np.nan, dtype=np.float32)
    out_ranks = np.tile((budgets + 1).astype(np.int32), (len(uniq), 1))
    out_scores[inv, ret] = score
    out_ranks[inv, ret] = rank
    row_b, row_item = uniq // n_items, uniq % n_items
    order = np.lexsort((row_item, out_ranks.min(axis=1), row_b))
    counts = np.bincount(row_b, minlength=B)
    return Candidates(users=users[row_b[order]], items=row_item[order].astype(np.int64),
                      scores=out_scores[order], ranks=out_ranks[order],
                      indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                      retrievers=tuple(names), budgets=budgets)


def retrieve_candidates(specs: Sequence[tuple[str | Recommender, int]],
                        interactions: Interactions, user_indices,
                        exclude: sp.csr_matrix | None = None) -> Candidates:
    """``fit_retrievers`` then ``retrieve``: one call from a retriever list to candidates."""
    return retrieve(fit_retrievers(specs, interactions), user_indices, exclude=exclude)


class Provenance:
    """{item: {retriever: rank there}} of a fused list, worked out for the items asked
    (those shown), not the whole pool."""

    def __init__(self, ranked):
        self.ranked = ranked
        self.row = {int(i): int(r) for i, r in zip(ranked.items, ranked.rows, strict=True)}

    def get(self, item: int, default=None):
        row = self.row.get(item)
        if row is None:
            return default
        c = self.ranked.candidates
        return {name: int(c.ranks[row, r]) for r, name in enumerate(c.retrievers)
                if not np.isnan(c.scores[row, r])}
