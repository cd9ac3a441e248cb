"""The last steps of every list the Engine serves: diversity, business rules, exploration.

``final_list`` takes one shopper's ranked pool (longer than ``n``) and a fallback ranking,
and returns the ``n`` slots shown, each with where it came from. Order of the steps:

1. **Diversity**: with ``diversity`` = lambda < 1, maximal-marginal-relevance re-ranks the
   eligible part of the pool (``ranking.diversity``, catalogue similarity); 1 or None keeps
   the relevance order.
2. **Long-tail share**: with ``long_tail_share`` > 0, the pool is re-ranked so that at least
   that share of the ``n`` slots shows long-tail items (``ranking.calibration``), before rules
   and exploration take their slots.
3. **Rules** (``ranking.rules``): never-shown items (out of stock, hidden) are dropped from
   pool and fallback alike, filters, brand caps, promotions and pins apply.
4. **Exploration**: with a bandit, the last slot that is not pinned is replaced by the item
   Thompson sampling picks over categories (from the rest of the pool, then the fallback),
   among items the rules allow; its propensity is logged on the slot.

Whatever the path (model list, popular fallback, pinned or promoted items, the exploration
slot), an item the rules never show is never returned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shelfwise.ranking.calibration import long_tail_rerank
from shelfwise.ranking.diversity import attribute_similarity, mmr
from shelfwise.ranking.exploration import CategoryThompson
from shelfwise.ranking.rules import CompiledRules, apply_rules


@dataclass(frozen=True)
class Slot:
    item: int  # item index
    score: float  # the ranked pool's score; NaN for fallback / pinned items
    source: str  # "ranked", "fallback", "promoted", "pinned" or "explore"
    propensity: float | None = None  # for "explore": probability the bandit chose it


def final_list(items: np.ndarray, scores: np.ndarray, n: int, *, rules: CompiledRules,
               fallback: np.ndarray, catalogue: pd.DataFrame | None = None,
               diversity: float | None = None, bandit: CategoryThompson | None = None,
               item_category: np.ndarray | None = None,
               rng: np.random.Generator | None = None, long_tail: np.ndarray | None = None,
               long_tail_share: float = 0.0) -> list[Slot]:
    """The ``n`` (or fewer, when nothing else is eligible) slots shown.

    items int64 (L,) best first and scores (L,): the pool; fallback int64 (F,) best first;
    item_category (n_items,) int64 category codes for the bandit (-1 = none); long_tail
    (n_items,) bool, True for long-tail items (needed when ``long_tail_share`` > 0)."""
    items = np.asarray(items, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float32)
    keep = (items >= 0) & rules.eligible[np.maximum(items, 0)]
    items, scores = items[keep], scores[keep]
    if diversity is not None and diversity < 1 and len(items) > 1:
        sim = attribute_similarity(catalogue, items[None, :])
        re_items, re_scores = mmr(items[None, :], scores[None, :], sim, len(items), lam=diversity)
        ok = re_items[0] >= 0
        items, scores = re_items[0][ok], re_scores[0][ok]
    if long_tail_share > 0 and long_tail is not None and len(items):
        items, scores = long_tail_rerank(items, scores, n, long_tail, long_tail_share)
    ruled = apply_rules(rules, items, scores, n, fallback=fallback)
    slots = [Slot(int(i), float(s), str(src)) for i, s, src in
             zip(ruled.items, ruled.scores, ruled.source, strict=True) if i >= 0]
    if bandit is not None and item_category is not None and slots:
        free = [k for k, s in enumerate(slots) if s.source != "pinned"]
        if free:
            at = free[-1]
            taken = [s.item for k, s in enumerate(slots) if k != at]
            pool = np.concatenate([items, np.asarray(fallback, dtype=np.int64)])
            pick = bandit.fill_slot(pool, item_category, rng or np.random.default_rng(),
                                    eligible=rules.eligible, taken=taken)
            if pick is not None:
                slots[at] = Slot(pick.item, float("nan"), "explore", pick.propensity)
    return slots
