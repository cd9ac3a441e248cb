"""Fairness of recommendation lists, for items (exposure) and for shoppers (accuracy by group).

Inputs as everywhere in ``evaluation``: ``recs`` (n_users, K_max) item indices best first, -1
padding; ``truth`` the relevant items of each row; K the cut-off (the top K slots are the
exposure a list gives).

- **exposure Gini** (``exposure_gini``): the Gini index of how often each catalogue item is
  in a top-K list (``beyond.gini``): 0 when every item is shown equally often, towards 1 when
  a few items take every slot;
- **brand exposure against purchase share** (``brand_exposure``): each brand's share of the
  top-K slots beside its share of the training purchases (all training events when the log
  has no purchase); ``brand_gap`` is the total-variation distance between the two
  distributions, 0.5 * sum |exposure - purchase| over brands: 0 when lists expose brands
  exactly as shoppers buy them, 1 when they expose only brands nobody bought;
- **NDCG@K by shopper activity** (``ndcg_by_activity``): the rows split into ``groups``
  equal-sized groups by their number of training events (fewest first; ties keep row order),
  NDCG@K per group. Shoppers unknown to training have 0 events and fall in the first group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.evaluation.beyond import gini
from shelfwise.evaluation.metrics import per_user

GROUP_NAMES = {3: ("low", "mid", "high")}


def exposure_gini(recs: np.ndarray, n_items: int, k: int = 10) -> float:
    return gini(recs[:, :k], n_items)


def brand_exposure(recs: np.ndarray, brand: np.ndarray, bought: np.ndarray, k: int = 10) -> pd.DataFrame:
    """Per brand (rows: brand code >= 0, in code order): ``exposure`` share of the top-``k``
    slots that show a branded item, ``purchase`` share of ``bought`` (item indices (m,), one
    per purchase) on branded items. brand: (n_items,) int64 codes, -1 = no brand."""
    brand = np.asarray(brand, dtype=np.int64)
    n_brands = int(brand.max(initial=-1)) + 1
    shown = recs[:, :k][recs[:, :k] >= 0]
    shown_b, bought_b = brand[shown], brand[np.asarray(bought, dtype=np.int64)]
    exposure = np.bincount(shown_b[shown_b >= 0], minlength=n_brands).astype(np.float64)
    purchase = np.bincount(bought_b[bought_b >= 0], minlength=n_brands).astype(np.float64)
    return pd.DataFrame({"exposure": exposure / max(exposure.sum(), 1.0),
                         "purchase": purchase / max(purchase.sum(), 1.0)})


def brand_gap(shares: pd.DataFrame) -> float:
    """Total-variation distance between the ``exposure`` and ``purchase`` columns; NaN without brands."""
    if len(shares) == 0 or shares["exposure"].sum() == 0 or shares["purchase"].sum() == 0:
        return float("nan")
    return float(0.5 * np.abs(shares["exposure"] - shares["purchase"]).sum())


def activity_groups(activity: np.ndarray, groups: int = 3) -> np.ndarray:
    """(n,) int group of each row, 0 = least active: ``groups`` equal-sized runs of the rows
    sorted by ``activity`` (stable, so ties keep row order)."""
    order = np.argsort(np.asarray(activity), kind="stable")
    out = np.empty(len(order), dtype=np.int64)
    out[order] = np.arange(len(order)) * groups // max(len(order), 1)
    return out


def ndcg_by_activity(recs: np.ndarray, truth: list[np.ndarray], activity: np.ndarray, k: int = 10,
                     groups: int = 3) -> pd.DataFrame:
    """Rows: the groups, least active first (named low/mid/high for 3 groups), columns
    ``users``, ``min_events``, ``max_events`` and ``ndcg@k``."""
    ndcg = per_user(recs, truth, k)["ndcg"]
    group = activity_groups(activity, groups)
    names = GROUP_NAMES.get(groups, tuple(str(g) for g in range(groups)))
    rows = []
    for g in range(groups):
        at = group == g
        rows.append({"group": names[g], "users": int(at.sum()),
                     "min_events": int(activity[at].min()) if at.any() else 0,
                     "max_events": int(activity[at].max()) if at.any() else 0,
                     f"ndcg@{k}": float(ndcg[at].mean()) if at.any() else float("nan")})
    return pd.DataFrame(rows).set_index("group")


def item_brands(view: Interactions) -> np.ndarray:
    """(n_items,) int64 brand codes of the view's catalogue (its ``brand`` column); -1 = none."""
    if view.items is None or "brand" not in view.items:
        return np.full(view.n_items, -1, dtype=np.int64)
    codes, _ = pd.factorize(view.items["brand"], use_na_sentinel=True)
    return codes.astype(np.int64)


def purchases(view: Interactions) -> np.ndarray:
    """Item index of each training purchase (all training events when there is none)."""
    bought = view.seq_types == EVENT_TYPES.index("purchase")
    return view.seq_items[bought] if bought.any() else view.seq_items


def fairness(recs: np.ndarray, truth: list[np.ndarray], view: Interactions, activity: np.ndarray,
             k: int = 10) -> dict[str, float]:
    """The scalar fairness metrics of one model's lists: exposure Gini, brand gap and NDCG@k
    per activity tertile ({"exposure_gini@10": ..., "brand_gap@10": ..., "ndcg@10_low": ...})."""
    out = {f"exposure_gini@{k}": exposure_gini(recs, view.n_items, k),
           f"brand_gap@{k}": brand_gap(brand_exposure(recs, item_brands(view), purchases(view), k))}
    for name, row in ndcg_by_activity(recs, truth, activity, k).iterrows():
        out[f"ndcg@{k}_{name}"] = row[f"ndcg@{k}"]
    return out


def training_activity(view: Interactions, user_ids: list[str]) -> np.ndarray:
    """(n,) int64 training events of each shopper in ``user_ids`` (0 when unknown to training)."""
    counts = np.diff(view.seq_indptr)
    at = view.users_to_indices(np.asarray(user_ids, dtype=object))
    return np.where(at >= 0, counts[np.maximum(at, 0)], 0).astype(np.int64)
