"""Reasons for the items of a list served by one (non-hybrid) model, from the shopper's live
history, in the ``Reasoner``'s words:

- item-kNN, rules, content: the shopper's own events on the item ("Kettle is in your cart",
  "you viewed Kettle 3 times"), else the live history item with the largest term of the
  item's score ("because you viewed Y"; rules: "often bought with Y" only when mined from
  purchase baskets), else "nothing in your history points to X";
- sequence models: the shopper's own events, else "often comes next after Y, which you viewed"
  (Y = the last history item);
- EASE, ALS, BPR, userknn: what the model computes ("shoppers whose history is like yours
  chose it", ...);
- popular: where the item stands by popularity ("one of the shop's most popular items"), or
  the live trend when ``week_counts`` counts shoppers on it;
- repeat: the shopper's own events on it, else the popular statement;
- any other model: "the {name} model gives no reason for its items".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.explanations import popularity_statement
from shelfwise.ranking.features import Histories
from shelfwise.ranking.reasons import NEIGHBOUR_MODELS, Reasoner


class ModelReasons:
    """Reasons for the items one model ``rec`` serves one shopper.

    rec: a fitted single model (not the hybrid: its reasons come from ``ListReasons``);
    view: the view ``rec`` was fitted on; hist: the shopper's events as served (item indices
    into ``view``, oldest first): the anchors come from it, not from ``rec``'s training-time
    profile; paths / labels: (n_items,) category paths and item labels (``Reasoner``);
    week_counts / window_days: live trend counts, as ``Reasoner`` takes them."""

    def __init__(self, rec, view: Interactions, hist: Histories, paths: list | None = None,
                 labels: np.ndarray | None = None,
                 week_counts: Callable[[np.ndarray], np.ndarray] | None = None,
                 window_days: float = 7.0):
        if "ranking" in rec.capabilities:
            raise ValueError(f"the {rec.name} model ranks fused candidates: word its list with ListReasons")
        self.rec, self.name = rec, rec.name
        self.base = rec.name.split("#")[0]
        self.reasoner = Reasoner(view, {rec.name: rec}, hist, paths, labels, week_counts, window_days)

    def _own_first(self) -> bool:
        # models that read the shopper's history: an item they already touched is worded from
        # their own events (the popular and collaborative statements say what the model did)
        return self.base in (*NEIGHBOUR_MODELS, "repeat") or "sequence" in self.rec.capabilities

    def reason(self, i: int) -> str:
        """One true statement about why ``rec`` serves item ``i`` to this shopper."""
        r = self.reasoner
        if self._own_first():
            own = r.own_statement(i)
            if own:
                return own
        text = r.model_statement(self.name, self.rec, i)
        if text:
            return text
        if self.base in NEIGHBOUR_MODELS:
            return f"nothing in your history points to {r.label(i)}"
        return f"the {self.name} model gives no reason for its items"

    def of(self, items: list[int]) -> dict[int, str]:
        """{item: reason text} for the listed items (indices into the view)."""
        self.reasoner.prefetch(items)
        return {int(i): self.reason(int(i)) for i in items}

    def explain(self, i: int, n: int = 3) -> list[str]:
        """Statements about item ``i``: for neighbour models the shopper's own events on it and
        the ``n`` live history items with the largest terms of its score, with those terms
        ("because you viewed Y (weight 0.412)"); for the popular model its popularity rank and
        the live trend; for other models their reason."""
        r = self.reasoner
        if self.base in NEIGHBOUR_MODELS:
            own = r.own_statement(i)
            lines = [own] if own else []
            lines += [f"{r.neighbour_statement(self.rec, j)} (weight {w:.3f})"
                      for j, w in r.links(self.rec, i, n)]
            return lines or [f"nothing in your history points to {r.label(i)}"]
        if self.base == "popular":
            trend = r.trend_statement(i)
            return [popularity_statement(self.rec, i, r.label(i)), *([trend] if trend else [])]
        return [self.reason(i)]
