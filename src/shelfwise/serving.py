"""What the Engine serves: one shopper's list, popular lists, similar items (explanations:
``explaining``).

``Serving`` is the serving half of ``Engine`` (a mixin: it uses ``self.store``,
``self.settings`` and ``self._load``). Every list, whatever model or fallback fills it, goes
through ``ranking.final.final_list``: diversity, the business rules (out-of-stock and hidden
items are never returned), and the exploration slot.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.errors import UnknownId
from shelfwise.explaining import Explaining
from shelfwise.explanations import item_label
from shelfwise.models.base import Recommender, top_n
from shelfwise.ranking.candidates import Provenance
from shelfwise.ranking.catalogue import category_codes, category_paths, matches_paths, text_matches
from shelfwise.ranking.exploration import CategoryThompson
from shelfwise.ranking.features import Histories
from shelfwise.ranking.final import final_list
from shelfwise.ranking.reasons import ListReasons
from shelfwise.ranking.rules import CompiledRules, RuleSet, compile_rules

CATALOGUE_TTL_S = 5.0  # another process's catalogue change (stock, price) counts within this


def one_core_per_request() -> None:
    """Score each request on one core in this process: PyTorch's intra-op threads and the
    BLAS / OpenMP pools loaded so far set to 1. A shopper's list is a few small operations,
    which threads only slow down (Beauty hybrid in-process, 2 cores: p50 about 65 ms with
    them, 20 ms without); a server gets its parallelism from concurrent requests instead.
    For serving processes only: training in the same process would use one core too."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)  # stays set: the limiter is not used as a context
    except ImportError:
        pass


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    score: float
    model: str  # the model that placed the item ("popular" for fallback places)
    reason: str | None = None  # why it is here, in words
    source: str = "ranked"  # ranked, fallback, promoted, pinned or explore
    sources: dict[str, int] = field(default_factory=dict)  # hybrid: retriever -> rank there
    propensity: float | None = None  # explore slot: probability the bandit showed it


@dataclass
class Context:
    """Where an anonymous or new shopper is: used to pick popular items in context."""

    category: str | None = None  # a category page: "Beauty > Skin care"
    query: str | None = None  # a search query: items whose text holds every word


@dataclass
class _Live:
    """A shopper's events mapped onto a trained view."""

    items: np.ndarray  # (E,) int64 item indices
    types: list[str]
    times: np.ndarray
    user_index: int | None  # row in the trained view, None = new to it
    touched_unknown: set[str]  # item ids the view does not know

    @property
    def empty(self) -> bool:
        return len(self.items) == 0


class Serving(Explaining):
    # -- shared state -------------------------------------------------------------------
    def _serving_state(self) -> dict:
        return self.__dict__.setdefault("_serving", {"lock": threading.Lock(), "catalogue": {},
                                                     "bandits": {}, "explored": {}})

    def _catalogue(self, view: Interactions) -> pd.DataFrame | None:
        """The view's catalogue with stock as the store has it now: an item marked out of
        stock after training is never shown from the next request on (``upsert_items`` in
        this process, or through the API in any process sharing the online state, which
        counts catalogue changes) or within ``CATALOGUE_TTL_S`` (another writer). The other fields
        (prices, categories) are those of training time until the next retrain. Only the ids
        of out-of-stock items are read, not the whole catalogue: that is seconds at 100k items."""
        state = self._serving_state()
        online = getattr(self, "online", None)
        generation = online.catalogue_generation() if online is not None else 0
        if state["catalogue"].get("generation", generation) != generation:  # changed elsewhere
            state["catalogue"] = {}
        state["catalogue"]["generation"] = generation
        hit = state["catalogue"].get("oos")
        if hit is None or time.monotonic() - hit[0] >= CATALOGUE_TTL_S:
            lock = state.setdefault("catalogue_lock", threading.Lock())
            if lock.acquire(blocking=hit is None):  # one thread reads, the others use the last answer
                try:
                    hit = (time.monotonic(), frozenset(self.store.out_of_stock()))
                    state["catalogue"]["oos"] = hit
                finally:
                    lock.release()
        oos = hit[1]
        key = (id(view), oos)
        frame = state["catalogue"].get("frame")
        if frame is None or frame[0] != key:
            base = view.items.copy() if view.items is not None else pd.DataFrame({"item_id": view.item_ids})
            base["in_stock"] = ~pd.Index(view.item_ids.astype(str)).isin(list(oos))
            frame = (key, base)
            state["catalogue"]["frame"] = frame
            state.pop("compiled", None)
        return frame[1]

    def upsert_items(self, items) -> int:
        """Store catalogue entries; they bind the next list this process serves."""
        n = self.store.upsert_items(items)
        self._serving_state()["catalogue"] = {}
        return n

    def _compiled(self, view: Interactions, rules: RuleSet | None) -> CompiledRules:
        merged = _overlay(self.settings.rules, rules)
        catalogue = self._catalogue(view)
        state = self._serving_state()
        key = (id(view), merged.model_dump_json())
        cache = state.setdefault("compiled", {})
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = compile_rules(merged, catalogue, view.item_ids)
        return cache[key]

    # -- lists --------------------------------------------------------------------------
    def recommend(self, user_id: str, n: int = 10, model: str | None = None, exclude_seen: bool = True,
                  *, exclude_types: list[str] | None = None, rules: RuleSet | None = None,
                  diversity: float | None = None, explore: bool | None = None,
                  context: Context | None = None) -> list[Recommendation]:
        """Top-``n`` for one shopper, from their events as they are in the store now.

        Models that score from a history (the hybrid, item-kNN, rules, EASE, content,
        ALS/BPR, the sequence models) read the shopper's events at request time, so the last
        event counts before the next retrain and a new shopper is personalised from their
        first event. A shopper with no usable events gets popular items in ``context``.

        ``exclude_types`` (default ``settings.exclude_types``): behaviours whose items are
        not shown again (``exclude_seen=False``: none). ``rules`` overlay the shop's
        ``settings.rules``; ``diversity`` is the MMR lambda (default ``settings.diversity``;
        1 = relevance only); ``explore`` fills the last slot from the category bandit.

        An item a single model scores exactly 0 has nothing behind it (no neighbour, rule
        or co-occurrence links it to the shopper), so it is not listed as the model's:
        popular items take those places, each with its ``reason``."""
        rec, view = self._load(model)
        return self._recommend_live(rec, view, self._live(view, str(user_id)), str(user_id), n, exclude_seen,
                                    exclude_types=exclude_types, rules=rules, diversity=diversity,
                                    explore=explore, context=context)

    def recommend_session(self, item_ids: list[str], types: list[str], times: np.ndarray, n: int = 10,
                          model: str | None = None, **options) -> list[Recommendation]:
        """Top-``n`` for an anonymous shopper given by their events (item ids, event type names,
        Unix times (k,), oldest first), served as ``recommend`` serves a shopper with those
        events in the store; ``options`` as for ``recommend``."""
        rec, view = self._load(model)
        index = view.item_index
        idx = np.array([index.get(i, -1) for i in item_ids], dtype=np.int64)
        keep = idx >= 0
        live = _Live(items=idx[keep], types=[t for t, k in zip(types, keep, strict=True) if k],
                     times=np.asarray(times, dtype=np.float64)[keep], user_index=None,
                     touched_unknown={i for i, k in zip(item_ids, keep, strict=True) if not k})
        return self._recommend_live(rec, view, live, "", n, True, **options)

    def _recommend_live(self, rec: Recommender, view: Interactions, live: _Live, user_id: str, n: int,
                        exclude_seen: bool, *, exclude_types: list[str] | None = None,
                        rules: RuleSet | None = None, diversity: float | None = None,
                        explore: bool | None = None, context: Context | None = None) -> list[Recommendation]:
        """``recommend`` for a shopper whose events are ``live``."""
        policy = list(self.settings.exclude_types if exclude_types is None else exclude_types)
        lam = self.settings.diversity if diversity is None else diversity
        pool_n = min(view.n_items, max(3 * n, n + 30))
        sources, reasons = {}, None
        why_fallback = f"the {rec.name} model has nothing more for this shopper"
        cold = live.empty and live.user_index is None
        if cold:  # nothing to personalise from: popular items in context, as a fallback
            items, scores = self._in_context(view, context, pool_n)
            why_fallback, owner = "unknown shopper" + _context_words(context), "popular"
        elif "ranking" in rec.capabilities:
            items, scores, sources, reasons = self._hybrid_pool(rec, view, live, pool_n,
                                                                policy if exclude_seen else [])
            owner = rec.name
        else:
            items, scores = self._single_pool(rec, view, live, pool_n, policy if exclude_seen else [])
            owner = rec.name
        blocked = set(self._blocked(live, policy if exclude_seen else [])) | set(items.tolist())
        fallback = [i for i in self._popular_order(view, pool_n + len(blocked)) if i not in blocked]
        slots = final_list(items, scores, n, rules=self._compiled(view, rules),
                           fallback=np.asarray(fallback, dtype=np.int64), catalogue=view.items,
                           diversity=lam, **self._exploration(view, user_id, explore))
        if isinstance(reasons, ListReasons):
            reasons = reasons.of([s.item for s in slots if s.source in ("ranked", "promoted")])
        out = []
        for s in slots:
            item_id = str(view.item_ids[s.item])
            if cold and s.source == "ranked":
                out.append(Recommendation(item_id, s.score, "popular", why_fallback, "fallback"))
            elif s.source in ("ranked", "promoted"):
                reason = reasons.get(s.item) if reasons is not None else None
                if s.source == "promoted":
                    reason = "promoted by the shop" + (f"; {reason}" if reason else "")
                out.append(Recommendation(item_id, s.score, owner, reason, s.source,
                                          sources.get(s.item, {})))
            elif s.source == "fallback":
                out.append(Recommendation(item_id, 0.0, "popular", why_fallback, s.source))
            elif s.source == "pinned":
                out.append(Recommendation(item_id, 0.0, owner, "pinned by the shop", s.source))
            else:
                out.append(Recommendation(item_id, 0.0, "bandit", "exploring a category you may like",
                                          s.source, propensity=s.propensity))
        return out

    def _live(self, view: Interactions, user_id: str) -> _Live:
        item_ids, types, times = self.store.user_events(user_id)
        index = view.item_index
        idx = np.array([index.get(i, -1) if i is not None else -1 for i in item_ids], dtype=np.int64)
        keep = idx >= 0
        return _Live(items=idx[keep], types=[t for t, k in zip(types, keep, strict=True) if k],
                     times=np.asarray(times)[keep], user_index=view.user_index.get(user_id),
                     touched_unknown={i for i, k in zip(item_ids, keep, strict=True) if not k and i})

    @staticmethod
    def _blocked(live: _Live, policy: list[str]) -> np.ndarray:
        """Item indices the shopper has an event of a type in ``policy`` on."""
        if not policy or live.empty:
            return np.zeros(0, dtype=np.int64)
        return np.unique(live.items[np.isin(live.types, policy)])

    def _single_pool(self, rec: Recommender, view: Interactions, live: _Live, pool_n: int, policy):
        if not live.empty and {"live", "sequence"} & rec.capabilities:
            score = rec.score_sequences if "sequence" in rec.capabilities else rec.score_histories
            scores = np.array(score([live.items], [live.types], [live.times])[0], dtype=np.float32)
        elif live.user_index is not None:
            scores = rec.score(np.array([live.user_index]))[0].copy()
        else:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scores[self._blocked(live, policy)] = -np.inf
        if rec.name != "popular":
            scores[scores == 0] = -np.inf  # nothing behind the item: leave the place to fallback
        items, top = top_n(scores[None, :], pool_n)
        ok = items[0] >= 0
        return items[0][ok], top[0][ok]

    def _hybrid_pool(self, rec, view: Interactions, live: _Live, pool_n: int, policy):
        """(items, scores, provenance {item: {retriever: rank}}, reasons) for the hybrid;
        ``reasons(items)`` words the reasons of the items shown only (it is the costly part)."""
        ranked = rec.rank_history(live.items, live.types, live.times, pool_n,
                                  user_index=live.user_index, exclude_types=policy)
        sources = Provenance(ranked)
        reasons = ListReasons(rec, view, Histories.single(live.items, live.types, live.times), ranked,
                              *self._paths(view))
        return ranked.items, ranked.scores.astype(np.float32), sources, reasons

    def _paths(self, view: Interactions) -> tuple[list, np.ndarray]:
        """The view's category paths and item labels (n_items,), computed once per view."""
        state = self._serving_state()
        hit = state.get("paths")
        if hit is None or hit[0] != id(view):
            labels = np.array([item_label(view, j) for j in range(view.n_items)], dtype=object)
            state["paths"] = hit = (id(view), (category_paths(view.items, view.n_items), labels))
        return hit[1]

    def _popular_scores(self, view: Interactions) -> np.ndarray:
        """(view.n_items,) float32 popularity of the view's items by the serving ``popular``
        model (which may be of a newer version: matched by item id; -inf = unknown to it),
        plus what events accepted since that version add (the online counters). The counters'
        increments are applied as they come (``popularity_log``), so a request costs what is
        new since the last one, not a pass over every item any event has touched."""
        rec, pview = self._load("popular")
        state = self._serving_state()
        counters = self.versions.active()["popular"] if self.online else None
        key = (id(view), id(rec), counters)
        with state["lock"]:
            hit = state.get("popular")
            if hit is None or hit[0] != key:
                raw = rec.score(np.array([0]))[0].astype(np.float32)
                at = pview.items_to_indices(view.item_ids)
                scores = np.where(at >= 0, raw[np.maximum(at, 0)], -np.inf).astype(np.float32)
                state["popular"] = hit = [key, scores, 0]  # key, scores, log entries applied
            if counters is not None:
                new = self.online.popularity_log(counters, hit[2])
                if new:
                    at = view.items_to_indices(np.array([i for i, _ in new], dtype=object))
                    known = at >= 0
                    np.add.at(hit[1], at[known], np.array([w for _, w in new], np.float32)[known])
                    hit[2] += len(new)
            return hit[1].copy()

    def _popular_order(self, view: Interactions, n: int) -> list[int]:
        """Item indices (of ``view``) of the shop's top ``n``."""
        items, _ = top_n(self._popular_scores(view)[None, :], min(n, view.n_items))
        return [int(i) for i in items[0] if i >= 0]

    def _in_context(self, view: Interactions, context: Context | None, n: int):
        """Popular items, restricted to the context's category page or search query when given."""
        scores = self._popular_scores(view)
        if context is not None and context.category:
            scores[~matches_paths(category_paths(view.items, view.n_items), [context.category])] = -np.inf
        if context is not None and context.query:
            scores[~text_matches(view.items, view.n_items, context.query)] = -np.inf
        items, top = top_n(scores[None, :], n)
        ok = items[0] >= 0
        return items[0][ok], top[0][ok]

    def _exploration(self, view: Interactions, user_id: str, explore: bool | None) -> dict:
        """Keyword arguments of ``final_list`` for the exploration slot (empty when off)."""
        if not (self.settings.explore if explore is None else explore):
            return {}
        state = self._serving_state()
        codes, names = category_codes(view.items, view.n_items, depth=1)
        if len(names) == 0:
            return {}
        key = id(view)
        with state["lock"]:
            if key not in state["bandits"]:
                state["bandits"] = {key: CategoryThompson(len(names), seed=0)}
        return {"bandit": state["bandits"][key], "item_category": codes,
                "rng": np.random.default_rng()}

    def popular(self, n: int = 10, rules: RuleSet | None = None) -> list[Recommendation]:
        """The shop's top-``n`` by the ``popular`` model, under the rules: the cold-start list."""
        _, view = self._load("popular")
        items, scores = top_n(self._popular_scores(view)[None, :], min(view.n_items, n + 50))
        ok = items[0] >= 0
        slots = final_list(items[0][ok], scores[0][ok], n, rules=self._compiled(view, rules),
                           fallback=np.zeros(0, np.int64))
        return [Recommendation(str(view.item_ids[s.item]), s.score, "popular", source=s.source) for s in slots]

    def similar(self, item_id: str, n: int = 10, model: str | None = None,
                rules: RuleSet | None = None) -> list[Recommendation]:
        rec, view = self._load(model)
        if "similar_items" not in rec.capabilities:
            raise ValueError(f"Model {rec.name!r} does not answer similar-item queries.")
        i = view.item_index.get(str(item_id))
        if i is None:
            raise UnknownId(f"Unknown item {item_id!r}: it is not in the trained catalogue.")
        items, scores = rec.similar_items(np.array([i]), min(view.n_items - 1, n + 50))
        ok = items[0] >= 0
        slots = final_list(items[0][ok], scores[0][ok], n, rules=self._compiled(view, rules),
                           fallback=np.zeros(0, np.int64))
        return [Recommendation(str(view.item_ids[s.item]), s.score, rec.name, source=s.source)
                for s in slots]


def _overlay(shop: RuleSet, request: RuleSet | None) -> RuleSet:
    """The shop's rules with a request's on top: hidden items and excluded categories add up
    (a request cannot show what the shop hides); what else the request sets replaces the
    shop's value."""
    if request is None:
        return shop
    given = request.model_dump(exclude_unset=True)
    merged = {**shop.model_dump(), **given}
    for key in ("hidden_items", "exclude_categories"):
        merged[key] = list(dict.fromkeys([*getattr(shop, key), *given.get(key, [])]))
    return RuleSet.model_validate(merged)


def _context_words(context: Context | None) -> str:
    if context is None:
        return ""
    if context.category:
        return f": popular in {context.category}"
    return f": popular items matching '{context.query}'" if context.query else ""
