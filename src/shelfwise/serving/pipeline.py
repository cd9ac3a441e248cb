"""The one serving path: every list the engine answers is built, logged and explained here.

    candidates  (one model's scores from the shopper's live events, the hybrid's fused
                 retrievers, or popular items in context for a shopper with nothing to go on)
 -> exclusion   (``ranking.exclusion``: the one rule, applied to candidates and fallback)
 -> rules, diversity, exploration   (``ranking.final.final_list``)
 -> reasons     (``ranking.reasons``: one true reason per item, or a plain "none")
 -> impression log (what was shown, with the recommendation id and propensities)

``Pipeline.recommend`` (a known shopper, their events read at request time),
``recommend_events`` (an anonymous session), ``popular`` and ``similar`` are the entry
points; ``Engine``, the HTTP routes, the list cache, the precompute walker,
``recommend-batch`` and ``explain`` call them. Which steps a model takes part in is decided
by its declared capabilities, never by its name.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.data.rules import RuleSet
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.models.base import Recommender, top_n
from shelfwise.ranking.candidates import Provenance
from shelfwise.ranking.catalogue import category_codes, category_paths, matches_paths, text_matches
from shelfwise.ranking.exclusion import blocked_items, repurchase_intervals
from shelfwise.ranking.exploration import CategoryThompson
from shelfwise.ranking.features import Histories
from shelfwise.ranking.final import final_list
from shelfwise.ranking.model_reasons import ModelReasons
from shelfwise.ranking.reasons import ListReasons
from shelfwise.ranking.rules import CompiledRules, compile_rules
from shelfwise.serving.impressions import ImpressionLog
from shelfwise.serving.published import Published
from shelfwise.serving.types import Context, ListRequest, Live, Recommendation, ServedList
from shelfwise.serving.variants import in_experiment
from shelfwise.serving.views import ViewCache

BANDIT = "category"  # the exploration bandit's name in the online state
WEEK_DAYS = 7.0  # the window of "popular ... this week"


class Pipeline:
    """Builds lists from a source (``serving.sources``) under the shop's settings."""

    def __init__(self, settings, source, impressions: ImpressionLog | None = None):
        self.settings, self.source, self.impressions = settings, source, impressions
        self.views = ViewCache(source)
        # user id -> the id of their shopper segment, or None (set by the Engine when the shop
        # has portraits): a segment's business rules apply to its shoppers' lists
        self.segment_of: Callable[[str], int | None] | None = None
        # popularity as shown: exact, or the shop's differentially private counts once the
        # Engine sets ``published.public`` (``privacy.dp_enabled``)
        self.published = Published(self.views)
        self._bandits: dict[int, tuple[CategoryThompson, np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()
        # each request draws from its own generator, spawned in turn from one seed sequence
        self._seeds = np.random.SeedSequence(getattr(settings, "explore_seed", None))

    # -- entry points ------------------------------------------------------------------
    def recommend(self, user_id: str, request: ListRequest | None = None) -> ServedList:
        """The list of shopper ``user_id`` from their events as the source has them now, in
        their variant of the experiment running now, if any (``serving.variants``)."""
        request = request or ListRequest()
        return in_experiment(self, str(user_id), request) or self.plain(str(user_id), request)

    def plain(self, user_id: str, request: ListRequest) -> ServedList:
        """``recommend`` as the request asks, whatever experiment runs."""
        name = request.model or self.settings.default_model
        rec, view, version = self.source.load(name)
        return self._serve(user_id, self.live(view, user_id), rec, view, version, name, request)

    def recommend_events(self, item_ids: list[str], types: list[str], times, request: ListRequest | None = None
                         ) -> ServedList:
        """The list of an anonymous shopper given by their events (ids, behaviour names, Unix
        times (k,), oldest first), served as a known shopper with those events would be."""
        request = request or ListRequest()
        name = request.model or self.settings.default_model
        rec, view, version = self.source.load(name)
        live = Live.from_ids(view, item_ids, types, times)
        return self._serve("", live, rec, view, version, name, request)

    def live(self, view: Interactions, user_id: str) -> Live:
        """The shopper's events now, mapped onto ``view``; nobody's (no events, no training
        row, ``personal`` False) when the shopper withholds personalisation consent."""
        if user_id and not self.source.consents(user_id):
            return Live(np.zeros(0, dtype=np.int64), [], np.zeros(0), None, personal=False)
        item_ids, types, times = self.source.events(user_id)
        return Live.from_ids(view, item_ids, types, times, user_index=view.user_index.get(user_id))

    def popular(self, n: int = 10, rules: RuleSet | None = None) -> ServedList:
        """The shop's top-``n`` by the ``popular`` model and the live counters, under the rules."""
        _, view, version = self.source.load("popular")
        items, scores = top_n(self._popularity(view)[None, :], min(view.n_items, n + 50))
        ok = items[0] >= 0
        slots = final_list(items[0][ok], scores[0][ok], n, rules=self.compiled(view, rules),
                           fallback=np.zeros(0, np.int64))
        reasons = self._trend_words(view, [s.item for s in slots])
        out = [Recommendation(str(view.item_ids[s.item]), s.score, "popular",
                              reasons.get(s.item, "one of the shop's most popular items"), s.source)
               for s in slots]
        return self._answered("", "popular", version, out, None, "ranked", log=False, personal=False)

    def similar(self, item_id: str, n: int = 10, model: str | None = None,
                rules: RuleSet | None = None) -> ServedList:
        """Items like ``item_id`` by a model with the ``similar_items`` capability."""
        from shelfwise.errors import UnknownId

        name = model or self.settings.default_model
        rec, view, version = self.source.load(name)
        if "similar_items" not in rec.capabilities:
            raise ValueError(f"Model {rec.name!r} does not answer similar-item queries.")
        i = view.item_index.get(str(item_id))
        if i is None:
            raise UnknownId(f"Unknown item {item_id!r}: it is not in the trained catalogue.")
        items, scores = rec.similar_items(np.array([i]), min(view.n_items - 1, n + 50))
        ok = items[0] >= 0
        slots = final_list(items[0][ok], scores[0][ok], n, rules=self.compiled(view, rules),
                           fallback=np.zeros(0, np.int64))
        label = self.views.labels(view)[i]
        out = [Recommendation(str(view.item_ids[s.item]), s.score, rec.name,
                              f"similar to {label} by the {rec.name} model", s.source) for s in slots]
        return self._answered("", name, version, out, None, "ranked", log=False, personal=False)

    # -- the path ----------------------------------------------------------------------
    def policy(self, request: ListRequest) -> list[str] | None:
        """Behaviours whose items are not shown again; None = every behaviour (all seen)."""
        if not request.exclude_seen:
            return []
        types = self.settings.exclude_types if request.exclude_types is None else request.exclude_types
        return None if types is None else list(types)

    def blocked(self, view: Interactions, live: Live, policy: list[str] | None) -> np.ndarray:
        """Item indices the shopper must not be shown (the one exclusion rule, with the
        shop's learned repurchase intervals; "now" is the later of the view's newest event
        and the shopper's, as the hybrid learned it)."""
        if live.empty or policy == []:
            return np.zeros(0, dtype=np.int64)
        now = max(self.views.newest(view), float(live.times.max()))
        codes = np.array([EVENT_TYPES.index(t) for t in live.types], dtype=np.int8)
        return blocked_items(live.items, codes, live.times, policy, n_items=view.n_items,
                             intervals=self.views.intervals(view, repurchase_intervals), now=now)

    def candidates(self, rec: Recommender, view: Interactions, live: Live, pool_n: int, blocked: np.ndarray,
                   context: Context | None, *, scores: np.ndarray | None = None, reasons: bool = True):
        """(items (L,), scores (L,), provenance {item: {retriever: rank}}, reasons, why) of
        the ranked pool, best first; ``why`` is set when the pool is the popular fallback.
        ``scores`` (n_items,): a single model's scores of this shopper worked out already
        (``recommend_many`` scores shoppers in blocks); ``reasons`` False words none."""
        hist = Histories.single(live.items, live.types, live.times)
        paths, labels = self.views.paths(view), self.views.labels(view)
        weeks = self._week_counts(view)
        if live.empty and live.user_index is None:
            items, scores = self._in_context(view, context, pool_n)
            return items, scores, {}, None, "unknown shopper" + _context_words(context)
        if "ranking" in rec.capabilities:
            ranked = rec.rank_history(live.items, live.types, live.times, pool_n,
                                      user_index=live.user_index, blocked=blocked)
            words = ListReasons(rec, view, hist, ranked, paths, labels, week_counts=weeks) if reasons else None
            return ranked.items, ranked.scores.astype(np.float32), Provenance(ranked), words, None
        scores = self._scores(rec, live) if scores is None else scores.astype(np.float32, copy=True)
        if scores is None:  # no live path and not in training: nothing personal to go on
            items, scores = self._in_context(view, context, pool_n)
            return items, scores, {}, None, f"the {rec.name} model knows this shopper only from training"
        scores[blocked] = -np.inf
        if "global" not in rec.capabilities:
            scores[scores == 0] = -np.inf  # nothing behind the item: leave the place to fallback
        items, top = top_n(scores[None, :], pool_n)
        ok = items[0] >= 0
        words = ModelReasons(rec, view, hist, paths, labels, week_counts=weeks) if reasons else None
        return items[0][ok], top[0][ok], {}, words, None

    def _scores(self, rec: Recommender, live: Live) -> np.ndarray | None:
        """(n_items,) float32 scores of one shopper, from their live events where the model
        scores histories, else from their training-time row; None when it has neither."""
        if "global" in rec.capabilities:
            return rec.score(np.array([0]))[0].astype(np.float32, copy=True)
        if not live.empty and {"live", "sequence"} & rec.capabilities:
            score = rec.score_sequences if "sequence" in rec.capabilities else rec.score_histories
            return np.array(score([live.items], [live.types], [live.times])[0], dtype=np.float32)
        if live.user_index is not None:
            return rec.score(np.array([live.user_index]))[0].astype(np.float32, copy=True)
        return None

    def recommend_many(self, user_ids: list[str], request: ListRequest | None = None,
                       block: int = 256) -> list[ServedList]:
        """``recommend`` for many shoppers (a batch job): a single model scores them in blocks
        of ``block`` histories, then each list takes the same steps as ``recommend``."""
        request = request or ListRequest()
        name = request.model or self.settings.default_model
        rec, view, version = self.source.load(name)
        lives = [self.live(view, str(u)) for u in user_ids]
        scored: dict[int, np.ndarray] = {}
        if "ranking" not in rec.capabilities:
            ready = [k for k, live in enumerate(lives) if not live.empty or live.user_index is not None]
            for start in range(0, len(ready), block):
                part = ready[start:start + block]
                scored.update(zip(part, self._scores_block(rec, [lives[k] for k in part]), strict=True))
        return [self._serve(str(u), lives[k], rec, view, version, name, request, scores=scored.get(k))
                for k, u in enumerate(user_ids)]

    def _scores_block(self, rec: Recommender, lives: list[Live]) -> list[np.ndarray | None]:
        """``_scores`` of several shoppers with one call of the model per kind of shopper."""
        out: list[np.ndarray | None] = [None] * len(lives)
        if "global" in rec.capabilities:
            row = rec.score(np.array([0]))[0].astype(np.float32)
            return [row] * len(lives)
        live_path = {"live", "sequence"} & rec.capabilities
        by_history = [k for k, live in enumerate(lives) if live_path and not live.empty]
        if by_history:
            score = rec.score_sequences if "sequence" in rec.capabilities else rec.score_histories
            rows = score([lives[k].items for k in by_history], [lives[k].types for k in by_history],
                         [lives[k].times for k in by_history])
            for k, row in zip(by_history, np.asarray(rows, dtype=np.float32), strict=True):
                out[k] = row
        by_row = [k for k, live in enumerate(lives) if out[k] is None and live.user_index is not None]
        if by_row:
            rows = rec.score(np.array([lives[k].user_index for k in by_row]))
            for k, row in zip(by_row, rows, strict=True):
                out[k] = np.asarray(row, dtype=np.float32)
        return out

    def _serve(self, user_id: str, live: Live, rec: Recommender, view: Interactions, version: str,
               name: str, request: ListRequest, scores: np.ndarray | None = None) -> ServedList:
        n = request.n
        policy = self.policy(request)
        lam = self.settings.diversity if request.diversity is None else request.diversity
        pool_n = min(view.n_items, max(3 * n, n + 30))
        blocked = self.blocked(view, live, policy)
        items, scores, sources, reasons, why = self.candidates(rec, view, live, pool_n, blocked, request.context,
                                                               scores=scores, reasons=request.reasons)
        cold = why is not None
        if not live.personal:
            why, user_id = "not personalised: the shopper has not consented to personalisation", ""
        why = why or f"the {rec.name} model has nothing more for this shopper"
        taken = set(blocked.tolist()) | set(items.tolist())
        fallback = [i for i in self._popular_order(view, pool_n + len(taken)) if i not in taken]
        explore = self.settings.explore if request.explore is None else request.explore
        bandit = self._exploration(view) if explore else {}
        rules = self.compiled(view, request.rules, request.shop_rules, user_id if live.personal else "")
        slots = final_list(items, scores, n, rules=rules,
                           fallback=np.asarray(fallback, dtype=np.int64), catalogue=view.items,
                           diversity=lam, long_tail_share=self.settings.long_tail_share,
                           long_tail=self.views.long_tail(view) if self.settings.long_tail_share > 0 else None,
                           **{k: v for k, v in bandit.items() if k != "names"})
        shown = [s.item for s in slots if s.source in ("ranked", "promoted")]
        words = reasons.of(shown) if reasons is not None and not cold and request.reasons else {}
        owner = "popular" if cold else rec.name
        out = []
        for s in slots:
            item_id = str(view.item_ids[s.item])
            if s.source in ("ranked", "promoted") and not cold:
                reason = words.get(s.item) or f"the {rec.name} model gives no reason for it"
                if s.source == "promoted":
                    reason = f"promoted by the shop; {reason}"
                out.append(Recommendation(item_id, s.score, owner, reason, s.source, sources.get(s.item, {})))
            elif s.source in ("ranked", "fallback"):
                score = s.score if s.source == "ranked" else 0.0
                out.append(Recommendation(item_id, score, "popular", why, "fallback"))
            elif s.source == "promoted":
                out.append(Recommendation(item_id, s.score, "popular", "promoted by the shop", s.source))
            elif s.source == "pinned":
                out.append(Recommendation(item_id, 0.0, owner, "pinned by the shop", s.source))
            else:
                out.append(Recommendation(item_id, 0.0, "bandit", "exploring a category you may like",
                                          s.source, propensity=s.propensity))
        whole = why if out and all(r.source == "fallback" for r in out) else None
        policy_name = "ranked+thompson-category" if bandit else "ranked"
        arms = {s.item: bandit["names"][bandit["item_category"][s.item]] for s in slots
                if s.source == "explore"} if bandit else {}
        return self._answered(user_id, name, version, out, whole, policy_name, log=request.log, arms=arms,
                              view=view, personal=live.personal and not (live.empty and live.user_index is None),
                              tag=request.experiment)

    def _answered(self, user_id: str, name: str, version: str | None, out: list[Recommendation],
                  fallback: str | None, policy: str, *, log: bool, arms: dict | None = None,
                  view: Interactions | None = None, personal: bool = True,
                  tag: tuple[str, str] | None = None) -> ServedList:
        served = ServedList(uuid.uuid4().hex, name, version, out, fallback, policy, personalised=personal,
                            experiment=tag[0] if tag else None, variant=tag[1] if tag else None)
        online = getattr(self.source, "online", None)
        if arms and online is not None:  # the bandit's impressions count once the list is answered
            online.bandit_shown(BANDIT, list(arms.values()))
        if log and self.impressions is not None:
            by_id = {str(view.item_ids[i]): arm for i, arm in (arms or {}).items()} if view is not None else {}
            self.impressions.log(served, user_id, by_id)
        return served

    # -- rules, fallback, exploration ---------------------------------------------------
    def compiled(self, view: Interactions, rules: RuleSet | None, shop: RuleSet | None = None,
                 user_id: str = "") -> CompiledRules:
        """The shop's rules (``shop``, or ``shop_rules()``), the request's over them, then
        those of the shopper's segment when the rules name it (``segment_of``)."""
        merged = overlay(shop if shop is not None else self.shop_rules(), rules)
        if merged.segments and user_id and self.segment_of is not None:
            segment = self.segment_of(user_id)
            if segment is not None and segment in merged.segments:
                merged = overlay(merged, merged.segments[segment])
        return self.views.compiled(view, merged, compile_rules)

    def shop_rules(self) -> RuleSet:
        """The shop's rules: those saved from the dashboard when there are (the source's
        ``shop_rules``), else the settings'."""
        saved = getattr(self.source, "shop_rules", None)
        stored = saved() if saved is not None else None
        return stored if stored is not None else self.settings.rules

    def _in_context(self, view: Interactions, context: Context | None, n: int):
        """Popular items, restricted to the context's category page or search query when given."""
        scores = self._popularity(view)
        if context is not None and context.category:
            scores[~matches_paths(category_paths(view.items, view.n_items), [context.category])] = -np.inf
        if context is not None and context.query:
            scores[~text_matches(view.items, view.n_items, context.query)] = -np.inf
        items, top = top_n(scores[None, :], n)
        ok = items[0] >= 0
        return items[0][ok], top[0][ok]

    def _popularity(self, view: Interactions) -> np.ndarray:
        """(n_items,) float32 popularity shown to shoppers (``serving.published``)."""
        return self.published.popularity(view)

    def _popular_order(self, view: Interactions, n: int) -> list[int]:
        return self.published.order(view, n)

    def _week_counts(self, view: Interactions):
        """item indices (k,) -> distinct shoppers with an event on each in the last week, as
        the online state counts them now (or as published: ``serving.published``); None
        without an online state."""
        if self.published.public is not None:
            return self.published.week_counts(view)
        online = getattr(self.source, "online", None)
        if online is None:
            return None

        def counts(items: np.ndarray) -> np.ndarray:
            ids = [str(view.item_ids[i]) for i in np.asarray(items, dtype=np.int64)]
            return np.asarray(online.window_counts(ids, time.time() - WEEK_DAYS * 86400), dtype=np.int64)

        return counts

    def _trend_words(self, view: Interactions, items: list[int]) -> dict[int, str]:
        """{item: "popular in Z this week (N shoppers)"} for the items with a live count."""
        weeks = self._week_counts(view)
        if weeks is None or not items:
            return {}
        counts = weeks(np.asarray(items, dtype=np.int64))
        paths = self.views.paths(view)
        out = {}
        for i, c in zip(items, counts.tolist(), strict=True):
            if c > 0:
                where = f" in {' > '.join(paths[i])}" if paths[i] else ""
                out[i] = f"popular{where} this week ({c} shopper{'s' if c != 1 else ''})"
        return out

    def rng(self) -> np.random.Generator:
        """A generator of its own for one request, spawned from the pipeline's seed."""
        with self._lock:
            return np.random.default_rng(self._seeds.spawn(1)[0])

    def _exploration(self, view: Interactions) -> dict:
        """Keyword arguments of ``final_list`` for the exploration slot: a Thompson bandit over
        top-level categories whose posteriors are the online state's shown / clicked counts
        (shared by every process), plus the arm names; empty without categories."""
        codes, names = category_codes(view.items, view.n_items, depth=1)
        if len(names) == 0:
            return {}
        online = getattr(self.source, "online", None)
        counts = online.bandit_counts(BANDIT) if online is not None else {}
        shown = np.array([counts.get(str(c), (0, 0))[0] for c in names], dtype=np.float64)
        clicked = np.array([counts.get(str(c), (0, 0))[1] for c in names], dtype=np.float64)
        with self._lock:
            hit = self._bandits.get(id(view))
            if hit is None:
                self._bandits = {id(view): (CategoryThompson(len(names), seed=0), shown, clicked)}
                hit = self._bandits[id(view)]
            bandit = hit[0]
            bandit.alpha_ = 1.0 + clicked
            bandit.beta_ = 1.0 + np.maximum(shown - clicked, 0.0)
            rng = np.random.default_rng(self._seeds.spawn(1)[0])
        return {"bandit": bandit, "item_category": codes, "rng": rng, "names": [str(c) for c in names]}


def overlay(shop: RuleSet, request: RuleSet | None) -> RuleSet:
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
