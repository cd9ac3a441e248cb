"""Why the hybrid placed an item: one human reason, chosen from the features that drove its
score, and the ranker's feature contributions.

Features fall into groups (``GROUPS``; one group per retriever too). A group can give the
reason only when its statement is true of the shopper and item (the cart reason needs a
cart event on the item, a retriever's reason needs that retriever to have proposed it). With
contributions (LightGBM's SHAP values, or the weighted fusion's exact terms) the reason is
the true statement whose group adds the most to the item's score; without them (the MLP
ranker), or when no group that lifted the score has a true statement, the first true
statement of: cart, favourite, viewed, then the retriever that ranked the item highest.

Statements are true when served: the shopper's own events are read from the live history
(an item carted and then removed, or bought, is not "in your cart"); a neighbour model's
anchor is the live history item with the largest term of its score (``ranking.links``);
"often bought with" only for rules mined from purchase baskets (``basket_phrase``); and
"popular this week" only from live counts (``week_counts``), never from the training-time
``pop_recent``. ``ModelReasons`` (``ranking.model_reasons``) words a single model's list
with the same statements.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shelfwise.data.interactions import TYPE_CODES, Interactions
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.explanations import TOP_POPULAR, item_label, ordinal, popularity_rank
from shelfwise.ranking.catalogue import SEP, category_paths
from shelfwise.ranking.features import Histories
from shelfwise.ranking.links import HistoryLinks, has_links

NEW_DAYS = 30.0
VERBS = {"view": "viewed", "click": "clicked on", "favorite": "favourited", "cart": "added to your cart",
         "purchase": "bought", "review": "reviewed", "search": "searched for"}
OWN_GROUPS = {"cart": ("n_cart",), "favorite": ("n_favorite",), "viewed": ("n_view", "days_since_item"),
              "bought": ("n_purchase",)}
ITEM_GROUPS = {"trend": ("pop_recent", "pop_all", "pop_purchase", "purchase_rate"), "new": ("item_age_days",),
               "category": ("category_affinity", "days_since_category", "brand_affinity", "log_price_ratio"),
               "cooc": ("cooc_last_item",)}
NEIGHBOUR_MODELS = ("itemknn", "rules", "content", "content_minilm")
#: what each collaborative model computes, in words: userknn sums its nearest shoppers' rows;
#: EASE weighs items by weights learned from which items shoppers choose together; ALS / BPR
#: place shoppers and items in one space of tastes learned from all shoppers' choices
COLLABORATIVE = {"userknn": "shoppers whose history is like yours chose it",
                 "ease": "shoppers' choices link it to items you chose",
                 "als": "it fits the tastes of shoppers whose choices are like yours",
                 "bpr": "it fits the tastes of shoppers whose choices are like yours"}
#: the last of these events on an item says whether it is in the cart now (a purchase
#: checks the cart out)
CART_EVENTS = np.array([TYPE_CODES[t] for t in ("cart", "remove_from_cart", "purchase")], np.int8)


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
    """Statements about the items of one shopper's list.

    view: the trained view (labels, categories); models: {retriever name: fitted model};
    hist: the shopper's events as served (item indices into the view, oldest first);
    paths / labels: (n_items,) category paths and item labels, when the caller has them;
    week_counts: item indices (k,) -> int (k,) distinct shoppers with an event on each item in
    the last ``window_days`` days, as the online state counts them now (None: no trend
    statement is made)."""

    def __init__(self, view: Interactions, models: dict, hist: Histories, paths: list | None = None,
                 labels: np.ndarray | None = None,
                 week_counts: Callable[[np.ndarray], np.ndarray] | None = None,
                 window_days: float = 7.0):
        self.view, self.models, self.hist = view, models, hist
        self.paths = paths if paths is not None else category_paths(view.items, view.n_items)
        self.labels = labels  # (n_items,) item_label of each item, when the caller has them
        self.week_counts, self.window_days = week_counts, float(window_days)
        self._week: dict[int, int] = {}  # item -> live count, asked once per item
        self._links: dict[int, HistoryLinks] = {}  # id(model) -> its split of the live scores

    def label(self, i: int) -> str:
        return str(self.labels[i]) if self.labels is not None else item_label(self.view, i)

    def _verb(self, j: int) -> str:
        hits = np.flatnonzero(self.hist.items == j)
        t = EVENT_TYPES[int(self.hist.types[hits[-1]])] if len(hits) else ""
        return VERBS.get(t, "showed interest in")

    def _did(self, j: int) -> str:
        """What the shopper last did with ``j``: "viewed Kettle", "added Kettle to your cart"."""
        verb = self._verb(j)
        return f"added {self.label(j)} to your cart" if verb == VERBS["cart"] else f"{verb} {self.label(j)}"

    def _category(self, i: int) -> str | None:
        return SEP.join(self.paths[i]) if self.paths[i] else None

    # -- the shopper's own events -------------------------------------------------------
    def in_cart(self, i: int) -> bool:
        """Whether ``i`` is in the cart now: the shopper's last cart, remove_from_cart or
        purchase event on it is a cart event (feature ``n_cart`` only counts cart events)."""
        on = np.flatnonzero((self.hist.items == i) & np.isin(self.hist.types, CART_EVENTS))
        return bool(len(on)) and int(self.hist.types[on[-1]]) == TYPE_CODES["cart"]

    def own_counts(self, i: int) -> dict[str, float]:
        """{n_view, n_favorite, n_cart, n_purchase}: the shopper's events of each type on ``i``,
        as ``build_features`` counts them."""
        types = self.hist.types[self.hist.items == i]
        return {f"n_{t}": float((types == TYPE_CODES[t]).sum())
                for t in ("view", "favorite", "cart", "purchase")}

    def own_statement(self, i: int) -> str | None:
        """The shopper's own events on ``i`` in words (cart now, favourite, views, else the
        last event), or None when they have none."""
        f = self.own_counts(i)
        for g in ("cart", "favorite", "viewed"):
            text = self.statement(g, i, f)
            if text:
                return text
        return f"you {self._did(i)}" if np.isin(i, self.hist.items) else None

    # -- links of neighbour models -------------------------------------------------------
    def links(self, model, i: int, n: int = 3) -> list[tuple[int, float]]:
        """[(history item, term of ``i``'s live score)] of a neighbour model, largest first."""
        if not has_links(model):
            return []
        if id(model) not in self._links:  # the history's rows are sliced once per list
            self._links[id(model)] = HistoryLinks(model, self.hist)
        return self._links[id(model)].top(i, n)

    def _anchor(self, model, i: int) -> int | None:
        """The history item whose link to ``i`` gives ``model`` most of its score."""
        top = self.links(model, i, 1)
        return top[0][0] if top else None

    def neighbour_statement(self, model, j: int) -> str:
        """Why a neighbour model links an item to the history item ``j``; rules in the words
        of the behaviours their baskets hold ("often bought with" only for purchases)."""
        phrase = getattr(model, "phrase_", None)
        return f"{phrase} {self.label(j)}" if phrase else f"because you {self._did(j)}"

    # -- popularity ------------------------------------------------------------------------
    def prefetch(self, items) -> None:
        """Ask ``week_counts`` once for all of ``items`` (k,) not asked yet."""
        todo = np.array([i for i in dict.fromkeys(int(i) for i in items) if i not in self._week], np.int64)
        if self.week_counts is not None and len(todo):
            counts = np.asarray(self.week_counts(todo)).ravel()
            if len(counts) != len(todo):
                raise ValueError(f"week_counts gave {len(counts)} counts for {len(todo)} items")
            self._week.update(zip(todo.tolist(), counts.astype(np.int64).tolist(), strict=True))

    def trend_statement(self, i: int) -> str | None:
        """"popular in Z this week (N shoppers)" from the live count N, or None when N = 0
        or no live counts are given."""
        if self.week_counts is None:
            return None
        self.prefetch([i])
        n = self._week[int(i)]
        if n <= 0:
            return None
        d = self.window_days
        when = "this week" if d == 7 else "in the last day" if d == 1 else f"in the last {d:g} days"
        cat = self._category(i)
        where = f" in {cat}" if cat else ""
        return f"popular{where} {when} ({n} shopper{'' if n == 1 else 's'})"

    def popular_statement(self, model, i: int) -> str:
        """Where ``i`` stands by the popularity ``model`` ranks with (a popular model's
        ``popularity_``, repeat's ``share_``), else the live trend."""
        pop = getattr(model, "popularity_", None)
        pop = model.share_ if pop is None else pop
        rank, _ = popularity_rank(pop, i)
        if pop[i] > 0 and rank <= TOP_POPULAR:
            return "one of the shop's most popular items"
        trend = self.trend_statement(i)
        if trend:
            return trend
        if pop[i] <= 0:
            return f"no shopper had interacted with {self.label(i)} when popularity was last counted"
        for top in (20, 50, 100):  # a round "one of the 50 most popular" reads better than "23rd"
            if rank <= top:
                return f"one of the shop's {top} most popular items"
        return f"the shop's {ordinal(rank)} most popular item (of {len(pop)})"

    # -- statements ------------------------------------------------------------------------
    def statement(self, group: str, i: int, f: dict) -> str | None:
        """The group's statement about item ``i`` (features ``f``), or None when untrue."""
        label = self.label(i)
        cat = self._category(i)
        if group == "cart" and self.in_cart(i):
            return f"{label} is in your cart"
        if group == "favorite" and f["n_favorite"] > 0:
            return f"{label} is in your favourites"
        if group == "viewed" and f["n_view"] > 0:
            times = int(f["n_view"])
            return f"you viewed {label} {'once' if times == 1 else f'{times} times'}"
        if group == "bought" and f["n_purchase"] > 0:
            return f"you bought {label} before, and shoppers buy it again about this often"
        if group == "trend":
            return self.trend_statement(i)
        if group == "new" and f["item_age_days"] <= NEW_DAYS and f["category_affinity"] > 0 and cat:
            return f"new in {cat}, a category you like"
        if group == "category" and f["category_affinity"] > 0 and cat:
            return f"in {cat}, a category you shop in"
        if group == "cooc" and f["cooc_last_item"] > 0 and len(self.hist.items):
            last = int(self.hist.items[-1])
            return f"shoppers who {self._verb(last)} {self.label(last)} also chose it"
        if group.startswith("model:"):
            return self._model_statement(group.removeprefix("model:"), i, f)
        return None

    def _model_statement(self, name: str, i: int, f: dict) -> str | None:
        if np.isnan(f.get(f"score:{name}", np.nan)):
            return None  # this retriever did not propose the item
        return self.model_statement(name, self.models.get(name), i)

    def model_statement(self, name: str, model, i: int) -> str | None:
        """Why the model ``name`` (a registry name, "#2" suffixes allowed) ranks ``i`` for this
        shopper, or None when it gives no true reason."""
        if model is None:
            return None
        base = name.split("#")[0]
        if base in NEIGHBOUR_MODELS:
            j = self._anchor(model, i)
            return self.neighbour_statement(model, j) if j is not None else None
        if "sequence" in model.capabilities:
            if not len(self.hist.items):
                return None
            last = int(self.hist.items[-1])
            return f"often comes next after {self.label(last)}, which you {self._verb(last)}"
        if base in COLLABORATIVE:
            return COLLABORATIVE[base]
        if base == "repeat":  # the shopper's own item, or else a popular one
            return self.own_statement(i) or self.popular_statement(model, i)
        if base == "popular":
            return self.popular_statement(model, i)
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

    def __init__(self, rec, view: Interactions, hist: Histories, ranked, paths: list, labels: np.ndarray,
                 week_counts: Callable[[np.ndarray], np.ndarray] | None = None, window_days: float = 7.0):
        self.rec, self.ranked = rec, ranked
        self.reasoner = Reasoner(view, {name: m for name, m, _ in rec.retrievers_}, hist, paths, labels,
                                 week_counts, window_days)
        self.position = {int(i): k for k, i in enumerate(ranked.items)}

    def at(self, ks: list[int]) -> list[Reason]:
        """The ``Reason`` of the ``ks``-th items of the fused list (one ranker call for all)."""
        r = self.ranked
        rows = r.rows[ks]
        sub = dataclasses.replace(r, items=r.items[ks], scores=r.scores[ks], rows=rows)
        contrib = self.rec.contributions(sub)
        X = r.features.to_numpy()[rows]
        cols = self.rec.columns_
        self.reasoner.prefetch(r.items[ks])  # one live count call for the items worded
        return [self.reasoner.reason(int(r.items[k]), dict(zip(cols, X[j].tolist(), strict=True)),
                                     None if contrib is None else contrib.to_numpy()[j], cols)
                for j, k in enumerate(ks)]

    def of(self, items: list[int]) -> dict[int, str]:
        """{item: reason text} for the listed items of the fused list."""
        ks = [self.position[i] for i in items if i in self.position]
        return {int(self.ranked.items[k]): reason.text for k, reason in zip(ks, self.at(ks), strict=True)}
