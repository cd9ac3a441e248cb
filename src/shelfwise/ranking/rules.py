"""Business rules: a typed ``RuleSet`` applied to a ranked list, on every path.

``apply_rules(compiled, items, scores, n, fallback)`` turns a ranked candidate list (plus an
optional fallback ranking, e.g. popular items, used when the candidates run short) into the
final ``n``. What holds, in order:

- **Never shown**: items the catalogue marks ``in_stock == False`` and ``hidden_items``
  (the catalogue schema has no "hidden" field, so the rule set carries them). This binds
  candidates, fallback, promoted and pinned items alike. An item without a catalogue row
  is not known to be out of stock and stays eligible.
- **Filters** on candidates and fallback: ``include_categories`` / ``exclude_categories``
  (path prefixes from the root, ``"Beauty > Skin care"``) and a price range; an item
  without a price fails a price range.
- **Per-brand caps**: at most ``max_per_brand`` items of one brand in the list (items with
  no brand are not capped); pinned items count towards their brand's cap.
- **Promotion** (as AWS Personalize promotions): ``round(share * n)`` slots go to the best
  ranked eligible items that match the promotion's filter; the other slots are filled in
  rank order from the rest, and the two are merged back by rank, so a promoted item sits
  where its relevance puts it. When too few items match, ordinary items fill the slots.
- **Pinned** items are placed at their 1-based positions (after the stock / hidden check,
  but bypassing the filters: a merchandiser pinned them on purpose); a pin past the end of a
  short list goes last, a pin at a position beyond ``n`` is not shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shelfwise.data.rules import ItemFilter, Pin, Promotion, RuleSet
from shelfwise.ranking.catalogue import category_paths, column_codes, matches_paths

__all__ = ["CompiledRules", "ItemFilter", "Pin", "Promotion", "RuleSet", "apply_rules", "compile_rules"]


@dataclass(frozen=True)
class CompiledRules:
    """A RuleSet resolved against one catalogue: masks over dense item indices."""

    shown: np.ndarray  # (n_items,) bool: in stock and not hidden (binds every path)
    eligible: np.ndarray  # (n_items,) bool: shown and passing the filters
    promoted: np.ndarray  # (n_items,) bool: matches the promotion's filter
    brand: np.ndarray  # (n_items,) int64 brand code, -1 = none
    max_per_brand: int | None
    share: float
    pins: list[tuple[int, int]]  # (0-based position, item index), by position
    dropped_pins: list[str] = field(default_factory=list)  # "P1: out of stock", ...


def _price_mask(price: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    ok = np.ones(len(price), dtype=bool)
    if lo is not None or hi is not None:
        ok &= ~np.isnan(price)
    if lo is not None:
        ok &= price >= lo
    if hi is not None:
        ok &= price <= hi
    return ok


def compile_rules(rules: RuleSet, catalogue: pd.DataFrame | None, item_ids: np.ndarray) -> CompiledRules:
    """Resolve ``rules`` to masks over the items ``item_ids`` (external ids, (n_items,), in
    index order; ``catalogue`` is ``Interactions.items``, aligned to them, or None)."""
    n = len(item_ids)
    index = pd.Index(np.asarray(item_ids, dtype=str))
    if catalogue is not None and len(catalogue) != n:
        raise ValueError(f"the catalogue has {len(catalogue)} rows for {n} items; "
                         "pass Interactions.items, which is aligned to the item indices")

    def col(name, default):
        if catalogue is None or name not in catalogue:
            return pd.Series([default] * n)
        return catalogue[name].reset_index(drop=True)

    def ids_mask(ids: list[str]) -> np.ndarray:
        m = np.zeros(n, dtype=bool)
        pos = index.get_indexer(pd.Index([str(i) for i in ids]))
        m[pos[pos >= 0]] = True
        return m

    # unknown (no row, NaN) counts as in stock; 0 / False / np.False_ as out of stock
    in_stock = col("in_stock", True).map(lambda v: True if v is None or (isinstance(v, float) and np.isnan(v))
                                         else bool(v))
    shown = in_stock.to_numpy(bool) & ~ids_mask(rules.hidden_items)
    paths = category_paths(catalogue, n)
    price = pd.to_numeric(col("price", np.nan), errors="coerce").to_numpy(np.float64)
    eligible = shown & _price_mask(price, rules.min_price, rules.max_price)
    if rules.include_categories:
        eligible &= matches_paths(paths, rules.include_categories)
    if rules.exclude_categories:
        eligible &= ~matches_paths(paths, rules.exclude_categories)

    promoted = np.zeros(n, dtype=bool)
    if rules.promotion is not None:
        f = rules.promotion.filter
        promoted = _price_mask(price, f.min_price, f.max_price)
        if f.categories:
            promoted &= matches_paths(paths, f.categories)
        if f.brands:
            promoted &= col("brand", None).isin(f.brands).to_numpy(bool)
        if f.item_ids:
            promoted &= ids_mask(f.item_ids)

    pins, dropped = [], []
    for pin in sorted(rules.pinned, key=lambda p: p.position):
        i = index.get_indexer([pin.item_id])[0]
        if i < 0:
            dropped.append(f"{pin.item_id}: not in the catalogue")
        elif not shown[i]:
            dropped.append(f"{pin.item_id}: out of stock or hidden")
        else:
            pins.append((pin.position - 1, int(i)))
    return CompiledRules(shown=shown, eligible=eligible, promoted=promoted,
                         brand=column_codes(catalogue, n, "brand"),
                         max_per_brand=rules.max_per_brand,
                         share=rules.promotion.share if rules.promotion else 0.0,
                         pins=pins, dropped_pins=dropped)


@dataclass(frozen=True)
class RuledList:
    items: np.ndarray  # (n,) int64, -1 = empty slot
    scores: np.ndarray  # (n,) float32: the ranked list's score; NaN for fallback/pinned-only
    source: np.ndarray  # (n,) object: "ranked", "fallback", "promoted", "pinned" or ""


def apply_rules(compiled: CompiledRules, items, scores, n: int, fallback=None) -> RuledList:
    """The final ``n`` of one ranked list under ``compiled`` rules.

    items int64 (L,) best first (-1 = padding), scores (L,); fallback: item indices (F,)
    best first, used after the ranked list. Returns a ``RuledList`` of length ``n``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1. Got {n} instead.")
    items = np.asarray(items, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float32)
    fb = np.asarray([] if fallback is None else fallback, dtype=np.int64)
    pool = np.concatenate([items[items >= 0], fb[fb >= 0]])
    pool_scores = np.concatenate([scores[items >= 0], np.full((fb >= 0).sum(), np.nan, np.float32)])
    from_fb = np.arange(len(pool)) >= (items >= 0).sum()
    _, first = np.unique(pool, return_index=True)
    first = np.sort(first)  # the first time each item appears, in pool order
    pool, pool_scores, from_fb = pool[first], pool_scores[first], from_fb[first]
    pins = [(pos, i) for pos, i in compiled.pins if pos < n]  # a pin past n is not shown
    pinned_items = {i for _, i in pins}
    ok = compiled.eligible[pool] & ~np.isin(pool, list(pinned_items))
    pool, pool_scores, from_fb = pool[ok], pool_scores[ok], from_fb[ok]

    cap = compiled.max_per_brand
    brand_count: dict[int, int] = {}
    for _, i in pins:
        b = int(compiled.brand[i])
        brand_count[b] = brand_count.get(b, 0) + 1

    def fits(i: int) -> bool:
        b = int(compiled.brand[i])
        return cap is None or b < 0 or brand_count.get(b, 0) < cap

    def take(i: int) -> None:
        b = int(compiled.brand[i])
        brand_count[b] = brand_count.get(b, 0) + 1

    free = n - len(pins)
    k_promo = min(free, math.floor(compiled.share * n + 0.5))
    chosen = np.zeros(len(pool), dtype=bool)
    is_promo = np.zeros(len(pool), dtype=bool)
    for p in np.flatnonzero(compiled.promoted[pool]):
        if is_promo.sum() >= k_promo:
            break
        if fits(pool[p]):
            take(pool[p])
            chosen[p] = is_promo[p] = True
    for p in range(len(pool)):
        if chosen.sum() >= free:
            break
        if not chosen[p] and fits(pool[p]):
            take(pool[p])
            chosen[p] = True
    picked = np.flatnonzero(chosen)  # pool order = rank order
    out_items = pool[picked].tolist()
    out_scores = pool_scores[picked].tolist()
    out_src = np.where(is_promo[picked], "promoted",
                       np.where(from_fb[picked], "fallback", "ranked")).tolist()
    ranked_score = dict(zip(items.tolist(), scores.tolist(), strict=True))
    for pos, i in pins:  # by position, so earlier pins do not shift later ones
        at = min(pos, len(out_items))
        out_items.insert(at, i)
        out_scores.insert(at, ranked_score.get(i, np.nan))
        out_src.insert(at, "pinned")
    pad = n - len(out_items)
    return RuledList(items=np.array(out_items + [-1] * pad, dtype=np.int64),
                     scores=np.array(out_scores + [np.nan] * pad, dtype=np.float32),
                     source=np.array(out_src + [""] * pad, dtype=object))


def apply_rules_batch(compiled: CompiledRules, items: np.ndarray, scores: np.ndarray, n: int,
                      fallback=None) -> tuple[np.ndarray, np.ndarray]:
    """``apply_rules`` per row of (B, L) items and scores: (items int64 (B, n), scores (B, n))."""
    out = [apply_rules(compiled, items[b], scores[b], n, fallback) for b in range(len(items))]
    return (np.stack([r.items for r in out]) if out else np.empty((0, n), np.int64),
            np.stack([r.scores for r in out]) if out else np.empty((0, n), np.float32))
