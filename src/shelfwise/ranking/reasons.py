"""Why the hybrid placed an item: one human reason, chosen from the features that drove its
score, and the ranker's feature contributions.

Features fall into groups (``GROUPS``; one group per retriever too). A group can give the
reason only when its statement is true of the shopper and item (the cart reason needs a
cart event on the item, a retriever's reason needs that retriever to have proposed it). With
contributions (LightGBM's SHAP values, or the weighted fusion's exact terms) the reason is
the true statement whose group adds the most to the item's score; without them (the MLP
ranker), or when no group that lifted the score has a true statement, the first true
statement of: cart, favourite, viewed, then the retriever that ranked the item highest.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.explanations import item_label
from shelfwise.ranking.catalogue import SEP, category_paths
from shelfwise.ranking.features import Histories

NEW_DAYS = 30.0
VERBS = {"view": "viewed", "click": "clicked on", "favorite": "favourited", "cart": "added to your cart",
         "purchase": "bought", "review": "reviewed", "search": "searched for"}
OWN_GROUPS = {"cart": ("n_cart",), "favorite": ("n_favorite",), "viewed": ("n_view", "days_since_item"),
              "bought": ("n_purchase",)}
ITEM_GROUPS = {"trend": ("pop_recent", "pop_all", "pop_purchase", "purchase_rate"), "new": ("item_age_days",),
               "category": ("category_affinity", "days_since_category", "brand_affinity", "log_price_ratio"),
               "cooc": ("cooc_last_item",)}
NEIGHBOUR_MODELS = ("itemknn", "rules", "content", "content_minilm")
COLLABORATIVE = ("ease", "als", "bpr", "userknn")


@dataclass(frozen=True)
class Reason:
    text: str
    group: str  # the feature group the statement comes from
    contributions: dict[str, float]  # feature -> contribution (empty without a ranker that gives them)


@functools.lru_cache(maxsize=4096)  # a handful of column names, asked per item per request
def _group_of(column: str) -> str:
    if ":" in column:
        return "model:" + column.split(":", 1)[1]
    for groups in (OWN_GROUPS, ITEM_GROUPS):
        for g, cols in groups.items():
            if column in cols:
                return g
    return "shopper"  # last_event_type, n_events, n_proposed: context, never a reason alone


class Reasoner:
    """Reasons for the items of one shopper's fused list.

    view: the trained view (labels, categories); models: {retriever name: fitted model};
    hist: the shopper's events as ranked (item indices into the view)."""

    def __init__(self, view: Interactions, models: dict, hist: Histories, paths: list | None = None,
                 labels: np.ndarray | None = None):
        self.view, self.models, self.hist = view, models, hist
        self.paths = paths if paths is not None else category_paths(view.items, view.n_items)
        self.labels = labels  # (n_items,) item_label of each item, when the caller has them
        self._touched = np.unique(hist.items)
        self._links: dict[int, object] = {}  # id(model) -> its similarity rows of the touched items, CSC

    def _label(self, i: int) -> str:
        return str(self.labels[i]) if self.labels is not None else item_label(self.view, i)

    def _verb(self, j: int) -> str:
        from shelfwise.data.schemas import EVENT_TYPES

        hits = np.flatnonzero(self.hist.items == j)
        t = EVENT_TYPES[int(self.hist.types[hits[-1]])] if len(hits) else ""
        return VERBS.get(t, "showed interest in")

    def _category(self, i: int) -> str | None:
        return SEP.join(self.paths[i]) if self.paths[i] else None

    def _anchor(self, model, i: int) -> int | None:
        """The history item whose link to ``i`` gives ``model`` most of its score."""
        sim = getattr(model, "similarity_", None)
        hist = self._touched
        if sim is None or len(hist) == 0:
            return None
        if id(model) not in self._links:  # sliced once per list, not once per item
            self._links[id(model)] = sim[hist].tocsc()
        links = self._links[id(model)][:, i].toarray().ravel()
        return int(hist[np.argmax(links)]) if links.max() > 0 else None

    def statement(self, group: str, i: int, f: dict) -> str | None:
        """The group's statement about item ``i`` (features ``f``), or None when untrue."""
        label = self._label(i)
        cat = self._category(i)
        if group == "cart" and f["n_cart"] > 0:
            return f"{label} is in your cart"
        if group == "favorite" and f["n_favorite"] > 0:
            return f"{label} is in your favourites"
        if group == "viewed" and f["n_view"] > 0:
            times = int(f["n_view"])
            return f"you viewed {label} {'once' if times == 1 else f'{times} times'}"
        if group == "bought" and f["n_purchase"] > 0:
            return f"you bought {label} before, and shoppers buy it again about this often"
        if group == "trend" and f["pop_recent"] > 0:
            where = f" in {cat}" if cat else ""
            return f"popular{where} this week ({int(f['pop_recent'])} shoppers)"
        if group == "new" and f["item_age_days"] <= NEW_DAYS and f["category_affinity"] > 0 and cat:
            return f"new in {cat}, a category you like"
        if group == "category" and f["category_affinity"] > 0 and cat:
            return f"in {cat}, a category you shop in"
        if group == "cooc" and f["cooc_last_item"] > 0 and len(self.hist.items):
            last = int(self.hist.items[-1])
            return f"shoppers who {self._verb(last)} {self._label(last)} also chose it"
        if group.startswith("model:"):
            return self._model_statement(group.removeprefix("model:"), i, f)
        return None

    def _model_statement(self, name: str, i: int, f: dict) -> str | None:
        if np.isnan(f.get(f"score:{name}", np.nan)):
            return None  # this retriever did not propose the item
        model = self.models.get(name)
        base = name.split("#")[0]
        if base in NEIGHBOUR_MODELS and model is not None:
            j = self._anchor(model, i)
            if j is not None:
                if base == "rules":
                    return f"often bought with {self._label(j)}"
                return f"because you {self._verb(j)} {self._label(j)}"
            return "like items you showed interest in" if base.startswith("content") else None
        if model is not None and "sequence" in model.capabilities and len(self.hist.items):
            last = int(self.hist.items[-1])
            return f"often comes next after {self._label(last)}, which you {self._verb(last)}"
        if base in COLLABORATIVE:
            return "shoppers whose history is like yours chose it"
        if base == "repeat":  # the shopper's own item, or else a popular one
            if np.isin(i, self.hist.items):
                verb = self._verb(i)
                return f"{self._label(i)} is in your cart" if verb == VERBS["cart"] \
                    else f"you {verb} {self._label(i)}"
            return "one of the shop's most popular items"
        if base == "popular":
            return "one of the shop's most popular items"
        return None

    def reason(self, i: int, f: dict[str, float], contrib: np.ndarray | None,
               columns: list[str]) -> Reason:
        """The reason for item ``i`` from its features ``f`` ({column: value}) and, when the
        ranker gives them, its contributions (F + 1,) in ``columns`` order plus the bias."""
        shown: dict[str, float] = {}
        if contrib is not None:
            parts = np.asarray(contrib[:len(columns)], dtype=np.float64)
            top = np.argsort(-np.abs(parts))[:5]
            shown = {columns[k]: float(parts[k]) for k in top}
            groups: dict[str, float] = {}
            for c, v in zip(columns, parts, strict=True):
                g = _group_of(c)
                groups[g] = groups.get(g, 0.0) + float(v)
            for g, value in sorted(groups.items(), key=lambda kv: -kv[1]):
                if value <= 0:
                    break
                text = self.statement(g, i, f)
                if text:
                    return Reason(text, g, shown)
        # no group that lifted the score has a true statement (or no contributions): the
        # shopper's own events on the item, then the retriever that ranked it highest
        for g in ("cart", "favorite", "viewed"):
            text = self.statement(g, i, f)
            if text:
                return Reason(text, g, shown)
        ranks = {c.split(":", 1)[1]: f[c] for c in columns if c.startswith("rank:")}
        for name in sorted(ranks, key=ranks.get):
            text = self._model_statement(name, i, f)
            if text:
                return Reason(text, "model:" + name, shown)
        return Reason("ranked by the combined models", "ranker", shown)


class ListReasons:
    """Reasons for the items of one shopper's fused list (a hybrid's ``Ranked``), worded on
    demand: wording is the costly part, so only the items shown are worded."""

    def __init__(self, rec, view: Interactions, hist: Histories, ranked, paths: list, labels: np.ndarray):
        self.rec, self.ranked = rec, ranked
        self.reasoner = Reasoner(view, {name: m for name, m, _ in rec.retrievers_}, hist, paths, labels)
        self.position = {int(i): k for k, i in enumerate(ranked.items)}

    def at(self, ks: list[int]) -> list[Reason]:
        """The ``Reason`` of the ``ks``-th items of the fused list (one ranker call for all)."""
        r = self.ranked
        rows = r.rows[ks]
        sub = dataclasses.replace(r, items=r.items[ks], scores=r.scores[ks], rows=rows)
        contrib = self.rec.contributions(sub)
        X = r.features.to_numpy()[rows]
        cols = self.rec.columns_
        return [self.reasoner.reason(int(r.items[k]), dict(zip(cols, X[j].tolist(), strict=True)),
                                     None if contrib is None else contrib.to_numpy()[j], cols)
                for j, k in enumerate(ks)]

    def of(self, items: list[int]) -> dict[int, str]:
        """{item: reason text} for the listed items of the fused list."""
        ks = [self.position[i] for i in items if i in self.position]
        return {int(self.ranked.items[k]): reason.text for k, reason in zip(ks, self.at(ks), strict=True)}
