"""Audiences by affinity: for an item, a set of items, a brand or a category, the shoppers most
likely to engage, ranked by a trained model's scores of those items over every shopper.

A shopper's affinity to a target is the sum of the model's scores of the target's items
(``Recommender.score_columns``: for EASE the profiles times the items' columns of B, for
item-kNN and rules the columns of the similarity matrix, for ALS / BPR the factors), so one
item over 100,000 shoppers is one sparse matrix-vector product. Items are scored in blocks of
``ITEM_BLOCK`` columns, so a category of thousands of items needs memory for one block only.

Ranked by engagement (the default), a shopper's affinity (clipped at 0) is multiplied by their
recent activity (``view_activity``: events halved every ``activity_half_life_days`` up to the
model's newest event): who engages with an item in the next weeks is who comes back at all
times who prefers it (on the synthetic shop's 14-day hold-out this lifts the precision of an
EASE audience from 0.043 to 0.056, where the most active shoppers score 0.045). Ranked by
affinity, the model's score alone.

By default shoppers who already bought one of the target items are left out (they are not an
audience for it), as are shoppers who withhold consent. Shoppers the model was not trained on
(new since the last training) are not in an audience until the next one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.errors import UnknownId
from shelfwise.marketing.propensity import in_category
from shelfwise.models import Recommender
from shelfwise.profiles.aggregates import CatalogueIndex

ITEM_BLOCK = 256
MAX_ITEMS = 5000  # a target of more items is refused: say a narrower category
PURCHASE = EVENT_TYPES.index("purchase")


def target_items(catalogue: CatalogueIndex, items: list[str] | None = None, brand: str | None = None,
                 category: str | None = None) -> tuple[str, list[str]]:
    """(the target's field name, its item ids); exactly one of items / brand / category.
    Raises ValueError naming the field."""
    given = [name for name, v in (("item", items), ("brand", brand), ("category", category)) if v]
    if len(given) != 1:
        raise ValueError("item, brand, category: give exactly one target (one or more item ids, "
                         f"or one brand, or one category); got {given or 'none'}")
    if items:
        return "item", list(dict.fromkeys(map(str, items)))
    if brand:
        found = sorted(i for i, b in catalogue.brand.items() if b == brand)
        if not found:
            raise UnknownId(f"brand: no catalogue item has brand {brand!r}")
        return "brand", found
    found = sorted(in_category(catalogue, str(category)))
    if not found:
        raise UnknownId(f"category: no catalogue item is in {category!r}")
    return "category", found


def bought(view: Interactions, item_indices: np.ndarray) -> np.ndarray:
    """(n_users,) bool: shoppers whose training history has a purchase of one of the items."""
    hit = (view.seq_types == PURCHASE) & np.isin(view.seq_items, item_indices)
    users = np.searchsorted(view.seq_indptr, np.flatnonzero(hit), side="right") - 1
    out = np.zeros(view.n_users, dtype=bool)
    out[users] = True
    return out


def view_activity(view: Interactions, half_life_days: float) -> np.ndarray:
    """(n_users,) each shopper's events in the view, each halved every ``half_life_days``
    before the view's newest event."""
    if view.n_events == 0:
        return np.zeros(view.n_users)
    w = np.exp2(-(float(view.seq_times.max()) - view.seq_times) / (half_life_days * 86400.0))
    total = np.r_[0.0, np.cumsum(w)]
    return total[view.seq_indptr[1:]] - total[view.seq_indptr[:-1]]


def audience(model: Recommender, view: Interactions, item_ids: list[str], n: int = 100, *,
             field: str = "item", exclude_purchased: bool = True, withheld: set[str] | None = None,
             activity: np.ndarray | None = None) -> pd.DataFrame:
    """The top-``n`` shoppers for the items: columns user_id, score, rank (1 = most likely),
    best first. ``activity`` (n_users,): rank by max(affinity, 0) * activity (engagement);
    None: by affinity. Raises UnknownId (naming ``field``) for items the model was not trained on
    (all of them for an attribute target; any of them for a list of items)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    idx = view.items_to_indices(item_ids)
    if field == "item" and (idx < 0).any():
        missing = [i for i, k in zip(item_ids, idx, strict=True) if k < 0][:5]
        raise UnknownId(f"item: the model knows no item {', '.join(missing)} (not in its training data)")
    idx = idx[idx >= 0]
    if not len(idx):
        raise UnknownId(f"{field}: none of its items is in the model's training data")
    if len(idx) > MAX_ITEMS:
        raise ValueError(f"{field}: {len(idx)} items, more than {MAX_ITEMS}: name a narrower target")
    scores = np.zeros(view.n_users, dtype=np.float64)  # (n_users,)
    for start in range(0, len(idx), ITEM_BLOCK):
        scores += model.score_columns(idx[start:start + ITEM_BLOCK]).sum(axis=1, dtype=np.float64)
    if activity is not None:
        scores = np.maximum(scores, 0.0) * activity
    keep = np.ones(view.n_users, dtype=bool)
    if exclude_purchased:
        keep &= ~bought(view, idx)
    if withheld:
        keep &= ~np.isin(view.user_ids, list(withheld))
    users = np.flatnonzero(keep)
    k = min(n, len(users))
    if k == 0:
        return pd.DataFrame({"user_id": pd.Series(dtype=object), "score": pd.Series(dtype=float),
                             "rank": pd.Series(dtype=int)})
    part = users[np.argpartition(-scores[users], k - 1)[:k]] if k < len(users) else users
    top = part[np.lexsort((part, -scores[part]))]  # best first, ties by shopper index
    return pd.DataFrame({"user_id": view.user_ids[top], "score": scores[top].round(6),
                         "rank": np.arange(1, k + 1)})
