"""Explanation wording: statements about one item that are true of the fitted models and
the trained view (see ``Engine.explain``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.models.base import Recommender

#: ranks that may be called "most popular" in explanations
TOP_POPULAR = 10


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rank_of(scores: np.ndarray, i: int) -> int:
    """1-based position of item ``i`` in the order ``top_n`` gives ``scores`` (n_items,):
    higher score first, ties by lower index."""
    s = scores[i]
    return int((scores > s).sum() + (scores[:i] == s).sum()) + 1


def item_label(view: Interactions, j: int) -> str:
    titles = view.items["title"] if view.items is not None and "title" in view.items else None
    return str(titles.iloc[j]) if titles is not None and pd.notna(titles.iloc[j]) \
        else str(view.item_ids[j])


def popularity_rank(pop: np.ndarray, i: int) -> tuple[int, int]:
    """(competition rank, other items tied with it) of item ``i`` in ``pop`` (n_items,):
    tied items share the rank of the first of them."""
    return int((pop > pop[i]).sum()) + 1, int((pop == pop[i]).sum()) - 1


def popularity_statement(popular: Recommender, i: int, label: str) -> str:
    """Where item ``i`` stands in the fitted ``popular`` model's list, in words.

    ``i`` must index the popular model's own view; a caller holding an item of another
    model's view (or an id) uses ``popularity_statement_for``, which maps the id itself."""
    pop = popular.popularity_
    if pop[i] <= 0:
        return f"no shopper has interacted with {label} yet"
    rank, ties = popularity_rank(pop, i)
    by = ("by number of shoppers" if popular.count == "users" else "by weighted interactions")
    if popular.half_life_days is not None:
        by += f", recent ones counting more (half-life {popular.half_life_days:g} days)"
    tied = f", tied with {ties} other item{'s' if ties > 1 else ''}" if ties else ""
    if rank <= TOP_POPULAR:
        return f"{label} is the shop's {ordinal(rank)} most popular item ({by}{tied})"
    return f"{label} is ranked {ordinal(rank)} of {len(pop)} items {by}{tied}"


def popularity_statement_for(popular: Recommender, popular_view: Interactions, item_id: str,
                             label: str) -> str:
    """``popularity_statement`` for the item ``item_id`` (an external id), looked up in
    ``popular_view``, the view the ``popular`` model was fitted on; an item that view does not
    hold is said to be outside the popular model's count."""
    if popular_view.n_items != len(popular.popularity_):
        raise ValueError(f"popular_view has {popular_view.n_items} items, the popular model "
                         f"{len(popular.popularity_)}: it is not the view the model was fitted on")
    i = popular_view.item_index.get(str(item_id))
    if i is None:
        return f"{label} is not among the items the popular model counted, so it has no popularity rank"
    return popularity_statement(popular, i, label)
