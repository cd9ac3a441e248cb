"""What the serving path works out once per trained view and keeps: the catalogue with stock
as it is now, compiled business rules, category paths and labels, the newest event time,
repurchase intervals, and popularity with the live counters added."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.models.base import top_n
from shelfwise.ranking.calibration import long_tail_mask
from shelfwise.ranking.catalogue import category_paths


class ViewCache:
    """Per-view derived data, keyed by the view object (a new version is a new view)."""

    def __init__(self, source):
        self.source = source
        self._lock = threading.Lock()
        self._per_view: dict[int, dict] = {}
        self._popular: list | None = None  # [key, scores, counter log entries applied]
        self._order: tuple | None = None  # (the _popular it was worked out from, item order)

    def _slot(self, view: Interactions) -> dict:
        slot = self._per_view.get(id(view))
        if slot is None or slot["view"] is not view:
            with self._lock:
                if len(self._per_view) > 8:  # old versions' views
                    self._per_view.clear()
                slot = self._per_view[id(view)] = {"view": view}
        return slot

    def paths(self, view: Interactions) -> list:
        slot = self._slot(view)
        if "paths" not in slot:
            slot["paths"] = category_paths(view.items, view.n_items)
        return slot["paths"]

    def labels(self, view: Interactions) -> np.ndarray:
        """(n_items,) object: each item's title, else its id."""
        slot = self._slot(view)
        if "labels" not in slot:  # item_label's rule, over the whole catalogue at once
            ids = view.item_ids.astype(str).astype(object)
            if view.items is not None and "title" in view.items:
                titles = view.items["title"].astype(object).to_numpy()
                ok = pd.notna(titles)
                ids[ok] = titles[ok].astype(str)
            slot["labels"] = ids
        return slot["labels"]

    def newest(self, view: Interactions) -> float:
        slot = self._slot(view)
        if "newest" not in slot:
            slot["newest"] = float(view.seq_times.max()) if len(view.seq_times) else 0.0
        return slot["newest"]

    def long_tail(self, view: Interactions) -> np.ndarray:
        """(n_items,) bool: the view's long-tail items by training shoppers (``ranking.calibration``)."""
        slot = self._slot(view)
        if "long_tail" not in slot:
            slot["long_tail"] = long_tail_mask(np.diff(view.matrix.tocsc().indptr))
        return slot["long_tail"]

    def intervals(self, view: Interactions, learn) -> np.ndarray:
        """(n_items,) seconds after a purchase when an item may be shown again (``learn(view)``)."""
        slot = self._slot(view)
        if "intervals" not in slot:
            slot["intervals"] = learn(view)
        return slot["intervals"]

    def catalogue(self, view: Interactions) -> pd.DataFrame:
        """The view's catalogue with ``in_stock`` as the source says now (other fields are
        those of training time until the next retrain)."""
        oos = self.source.out_of_stock()
        slot = self._slot(view)
        hit = slot.get("catalogue")
        if hit is None or hit[0] != oos:
            base = view.items.copy() if view.items is not None else pd.DataFrame({"item_id": view.item_ids})
            base["in_stock"] = ~pd.Index(view.item_ids.astype(str)).isin(list(oos))
            hit = slot["catalogue"] = (oos, base)
            slot["compiled"] = {}
        return hit[1]

    def compiled(self, view: Interactions, rules, compile_rules):
        catalogue = self.catalogue(view)
        cache = self._slot(view).setdefault("compiled", {})
        key = rules.model_dump_json()
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = compile_rules(rules, catalogue, view.item_ids)
        return cache[key]

    def popular_scores(self, view: Interactions) -> np.ndarray:
        """(view.n_items,) float32 popularity of the view's items by the serving ``popular``
        model (matched by item id: it may be of another version; -inf = unknown to it), plus
        what events accepted since that version add (the online counters), applied as they
        come so a request costs what is new since the last one."""
        rec, pview, _ = self.source.load("popular")
        online = getattr(self.source, "online", None)
        counters = self.source.popularity_counters()
        key = (id(view), id(rec), counters)
        with self._lock:
            hit = self._popular
            if hit is None or hit[0] != key:
                raw = rec.score(np.array([0]))[0].astype(np.float32)
                at = pview.items_to_indices(view.item_ids)
                scores = np.where(at >= 0, raw[np.maximum(at, 0)], -np.inf).astype(np.float32)
                hit = self._popular = [key, scores, 0]
            if counters is not None and online is not None:
                new = online.popularity_log(counters, hit[2])
                if new:
                    at = view.items_to_indices(np.array([i for i, _ in new], dtype=object))
                    known = at >= 0
                    np.add.at(hit[1], at[known], np.array([w for _, w in new], np.float32)[known])
                    hit[2] += len(new)
                    self._order = None
            return hit[1].copy()

    def popular_order(self, view: Interactions, n: int) -> list[int]:
        """Item indices (of ``view``) of the shop's top ``n``, best first (the order is worked
        out once per state of the counters, not once per list)."""
        scores = self.popular_scores(view)
        with self._lock:
            order = getattr(self, "_order", None)
            if order is None or order[0] is not self._popular:
                items, _ = top_n(scores[None, :], view.n_items)
                order = self._order = (self._popular, [int(i) for i in items[0] if i >= 0])
        return order[1][:n]
