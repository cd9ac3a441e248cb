"""What a policy did to the shop over time, read from an exposure log (one row per shown item
with its ``day``, ``user``, ``item``, ``category`` and the shopper's response).

- **list entropy**: Shannon entropy (bits) of the categories within one shown list, averaged
  over the day's lists (10 items of 10 categories: log2(10) = 3.32; five wall clocks: 0);
- **shopper entropy**: entropy (bits) of the categories of everything a shopper has been shown
  from the first simulated day up to day d, averaged over the shoppers shown anything by then.
  Low means shoppers are shut in an "information cocoon";
- **coverage**: share of the catalogue shown to anyone on the day, and from the first day up to
  it (``evaluation.beyond.coverage``).

Items without a category (code -1) are left out of the entropies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import entropy

from shelfwise.evaluation.beyond import coverage


def category_entropy(groups, categories) -> np.ndarray:
    """Entropy in bits of each group's category counts.

    groups (m,) any hashable labels (a shopper, a list), categories (m,) int codes (-1 = none).
    Returns (G,) float64 for the distinct groups with a category, in sorted group order.
    """
    groups = np.asarray(groups)
    categories = np.asarray(categories, dtype=np.int64)
    keep = categories >= 0
    g, _ = pd.factorize(groups[keep], sort=True)
    if len(g) == 0:
        return np.zeros(0)
    counts = np.zeros((g.max() + 1, categories[keep].max() + 1))
    np.add.at(counts, (g, categories[keep]), 1.0)
    return entropy(counts, base=2, axis=1)


def daily_metrics(exposures: pd.DataFrame, n_items: int, days: int | None = None) -> pd.DataFrame:
    """One row per day 0..days-1 (default: up to the log's last day).

    Columns: visits (lists shown), views, carts, purchases, revenue, list_entropy,
    shopper_entropy (cumulative), coverage (the day's), coverage_cum.
    """
    if days is None:
        days = int(exposures["day"].max()) + 1 if len(exposures) else 0
    rows = []
    cats = exposures["category"].to_numpy(np.int64)
    n_users = int(exposures["user"].max()) + 1 if len(exposures) else 0
    running = np.zeros((n_users, max(int(cats.max(initial=-1)) + 1, 1)))  # (n_users, C) so far
    shown = np.zeros(n_items, bool)
    by_day = dict(tuple(exposures.groupby("day", sort=True))) if len(exposures) else {}
    for d in range(days):
        e = by_day.get(d, exposures.iloc[:0])
        users, items, c = (e["user"].to_numpy(np.int64), e["item"].to_numpy(np.int64),
                           e["category"].to_numpy(np.int64))
        ok = c >= 0
        np.add.at(running, (users[ok], c[ok]), 1.0)
        seen = running.sum(axis=1) > 0
        shown[items[items >= 0]] = True
        list_h = category_entropy(users, c)
        rows.append({
            "day": d, "visits": int(e["user"].nunique()), "views": int(e["viewed"].sum()),
            "carts": int(e["carted"].sum()), "purchases": int(e["purchased"].sum()),
            "revenue": float(e["revenue"].sum()),
            "list_entropy": float(list_h.mean()) if len(list_h) else 0.0,
            "shopper_entropy": float(entropy(running[seen], base=2, axis=1).mean()) if seen.any() else 0.0,
            "coverage": coverage(items[None, :], n_items),
            "coverage_cum": float(shown.mean()) if n_items else 0.0,
        })
    return pd.DataFrame(rows, columns=["day", "visits", "views", "carts", "purchases", "revenue",
                                       "list_entropy", "shopper_entropy", "coverage", "coverage_cum"])
