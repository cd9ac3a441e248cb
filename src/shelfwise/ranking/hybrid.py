"""The hybrid recommender: candidates from every model family, features, a learned fusion.

``HybridRecommender`` is a ``Recommender`` (registry name ``hybrid``), so everything that
takes a model name (``train``, ``recommend-batch``, the benchmarks) runs the whole pipeline.

Protocol (no test target reaches any stage):

1. **Hold-out.** In the view given to ``fit``, each shopper's last purchase (their last
   event when the log holds no purchase at all) that has at least one earlier event, and
   that the exclusion policy would let the ranker show (``holdout``), is that shopper's
   validation target. The target and every event of the shopper after it in time
   are removed: that is the stage-1 view.
2. **Stage 1.** The retrievers are fitted on the stage-1 view. For up to
   ``max_train_users`` validation shoppers (drawn with ``seed``) candidates are retrieved
   under the exclusion policy computed on the stage-1 view, and features are built from it;
   the label is 1 on the held-out item, 0 elsewhere.
3. **Fusion.** The ranker (``ranking.fusion``) learns on those groups; shoppers whose
   held-out item is not among their candidates carry no signal and are left out.
4. **Stage 2.** The retrievers are refitted on the whole view; ``recommend`` retrieves and
   builds features from it. With ``warm_start`` (the default) a sequence model starts from
   its stage-1 network and trains only its refit epochs on the whole view (``refit_from``)
   instead of a second validated search: the two views differ by each validation shopper's
   latest events, which is what those epochs are for.

The view given to ``fit`` is everything the hybrid sees. An offline evaluation passes only
its train part, so the test targets are in no stage; ``training_targets_`` records the
(shopper, item) pairs the ranker learned from, for audit.

Exclusion: with ``exclude_seen=True`` an item is excluded when the shopper has an event of a
type in ``exclude_types`` on it (default: purchases, with consumables eligible again after
their learned repurchase interval, see ``ranking.exclusion``); viewed, favourited and carted
items stay eligible. ``exclude_types=None`` excludes everything seen. On a log where every
event is a purchase the two agree.

New items: the ranker learns from shoppers' next items, which are almost never items nobody
had touched, so it ranks an untouched item (no event in the fitted view, only its catalogue
row) low whatever its content says. With ``new_item_position=p`` (1-based; None = off) the
untouched item a content retriever ranks highest for the shopper takes position ``p`` of
the list when the ranker put it lower (items from ``p`` on move down one); its score stays
its fused score. A list shorter than ``p`` has no such slot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shelfwise.data.interactions import TYPE_CODES, Interactions
from shelfwise.models import MODELS, create
from shelfwise.models.base import Recommender, top_n, zero_rows
from shelfwise.models.params import Interval, Options
from shelfwise.ranking.candidates import Candidates, merge_lists, retrieve
from shelfwise.ranking.exclusion import blocked_items, exclusion_mask, repurchase_intervals
from shelfwise.ranking.features import FeatureContext, Histories, build_features
from shelfwise.ranking.fusion import FUSIONS, Fusion, restore_fusion
from shelfwise.ranking.holdout import holdout
from shelfwise.ranking.ordering import best_rows, with_new_item

#: (model, budget): the families the seed studies fuse, and the shopper's own eligible items
#: (``repeat``: carted, favourited, viewed); those whose extra is missing, or that have
#: nothing to read (content without a catalogue), are left out at fit time
DEFAULT_RETRIEVERS = (("sasrec", 50), ("ease", 50), ("itemknn", 50), ("als", 50), ("rules", 30),
                      ("content", 30), ("repeat", 30), ("popular", 30))
TEXT_COLUMNS = ("title", "description", "category", "brand", "attributes")
USER_BLOCK = 1024  # shoppers ranked together: bounds the feature frame (block x candidates)


@dataclass(frozen=True)
class Ranked:
    """One shopper's fused list: the top ``n`` candidate rows of ``candidates`` / ``features``."""

    items: np.ndarray  # (k,) int64, best first
    scores: np.ndarray  # (k,) float64 fused scores
    rows: np.ndarray  # (k,) int64 rows of candidates / features
    candidates: Candidates
    features: pd.DataFrame


class HybridRecommender(Recommender):
    name = "hybrid"
    capabilities = frozenset({"ranking"})
    extra = "ranking"
    requires = ("lightgbm",)
    _parameter_constraints: ClassVar[dict] = {
        "fusion": Options(frozenset(FUSIONS)),
        "max_train_users": Interval(int, 1),
        "seed": Interval(int, 0),
        "new_item_position": Interval(int, 1, allow_none=True),
        "warm_start": Options(frozenset({True, False})),
    }

    def __init__(self, *, retrievers: list | None = None, fusion: str = "lightgbm",
                 exclude_types: tuple[str, ...] | None = ("purchase",), repurchase: bool = True,
                 retriever_params: dict | None = None, max_train_users: int = 20000,
                 new_item_position: int | None = 10, warm_start: bool = True, seed: int = 0):
        self.retrievers = retrievers
        self.fusion = fusion
        # a tuple, so that the parameters compare equal after a JSON round trip (lists)
        self.exclude_types = tuple(exclude_types) if exclude_types is not None else None
        self.repurchase = repurchase
        self.retriever_params = retriever_params
        self.max_train_users = max_train_users
        self.new_item_position = new_item_position
        self.warm_start = warm_start
        self.seed = seed

    # -- fitting -----------------------------------------------------------------------
    def _specs(self, view: Interactions) -> list[tuple[str, int]]:
        specs = [tuple(s) for s in (self.retrievers or DEFAULT_RETRIEVERS)]
        for s in specs:
            if len(s) != 2 or s[0] not in MODELS or s[0] == "hybrid" or int(s[1]) < 1:
                raise ValueError(f"The 'retrievers' parameter of HybridRecommender must list "
                                 f"(model name, budget >= 1) pairs. Got {s!r} instead.")
        if len({s[0] for s in specs}) != len(specs):
            raise ValueError(f"The 'retrievers' parameter of HybridRecommender names a model twice: {specs}.")
        for t in self.exclude_types or ():
            if t not in TYPE_CODES:
                raise ValueError(f"The 'exclude_types' parameter of HybridRecommender takes "
                                 f"{', '.join(TYPE_CODES)}. Got {t!r} instead.")
        if self.retrievers:
            return [(n, int(b)) for n, b in specs]
        text = view.items is not None and any(c in view.items and view.items[c].notna().any()
                                              for c in TEXT_COLUMNS)
        out = []
        for name, budget in specs:
            try:
                MODELS[name].check_installed()
            except ImportError:
                continue
            if name.startswith("content") and not text:
                continue
            out.append((name, int(budget)))
        return out

    def _fit_retrievers(self, view: Interactions, earlier=()) -> list[tuple[str, Recommender, int]]:
        """(name, fitted model, budget) per retriever; a sequence model starts from its
        namesake in ``earlier`` (stage 1's retrievers) with ``refit_from``."""
        params, before = self.retriever_params or {}, {name: m for name, m, _ in earlier}
        models = [(create(name, **params.get(name, {})), name, budget) for name, budget in self.specs_]
        return [(name, m.refit_from(before[name], view) if name in before and hasattr(m, "refit_from")
                 else m.fit(view), budget) for m, name, budget in models]

    def _exclusion(self, view: Interactions) -> tuple[sp.csr_matrix, np.ndarray | None]:
        if self.exclude_types is None:
            mask = view.binary.astype(bool).tocsr()
            return mask, None
        intervals = repurchase_intervals(view) if self.repurchase else None
        return exclusion_mask(view, self.exclude_types, intervals=intervals), intervals

    def _fit(self, view: Interactions) -> None:
        self.specs_ = self._specs(view)
        if not self.specs_:
            raise ValueError("HybridRecommender has no retriever it can fit (install the extras).")
        stage1_events, users, targets = holdout(view, self.exclude_types)
        stage1 = Interactions.from_events(stage1_events, items=view.items, weights=view.weights,
                                          user_ids=view.user_ids, item_ids=view.item_ids)
        rng = np.random.default_rng(self.seed)
        if len(users) > self.max_train_users:
            pick = np.sort(rng.choice(len(users), self.max_train_users, replace=False))
            users, targets = users[pick], targets[pick]
        retrievers = self._fit_retrievers(stage1)
        mask, _ = self._exclusion(stage1)
        context, histories = FeatureContext.of(stage1), Histories.of(stage1)
        Xs, ys, groups, kept_u, kept_t = [], [], [], [], []
        for b in range(0, len(users), USER_BLOCK):
            block, want = users[b:b + USER_BLOCK], targets[b:b + USER_BLOCK]
            cands = retrieve(retrievers, block, exclude=mask)
            X = build_features(None, cands, context=context, histories=histories)
            target_of_row = np.repeat(want, np.diff(cands.indptr))
            y = (cands.items == target_of_row).astype(np.float32)
            hit = np.add.reduceat(y, cands.indptr[:-1]) > 0 if len(y) else np.zeros(0, bool)
            hit &= np.diff(cands.indptr) > 0
            rows = np.repeat(hit, np.diff(cands.indptr))
            Xs.append(X.to_numpy(np.float32)[rows])
            ys.append(y[rows])
            groups.append(np.diff(cands.indptr)[hit])
            kept_u.append(block[hit])
            kept_t.append(want[hit])
            self.columns_ = list(X.columns)
        if not Xs or sum(len(g) for g in groups) == 0:
            raise ValueError("No validation shopper's held-out item is among their candidates: "
                             "the log is too small for the hybrid to learn a ranking.")
        X, y, g = np.concatenate(Xs), np.concatenate(ys), np.concatenate(groups).astype(np.int64)
        del Xs, ys  # X is the copy kept
        self.fusion_ = FUSIONS[self.fusion](self.columns_, seed=self.seed).fit(X, y, g)
        self._ranker_data = (X, y, g)  # kept in memory (not saved) for ``with_fusion``
        self.training_targets_ = np.c_[np.concatenate(kept_u), np.concatenate(kept_t)].astype(np.int64)
        self.candidate_recall_ = float(len(g) / max(len(users), 1))
        # stage 2, for serving; stage 1's retrievers but the warm-started ones go first (memory)
        warm = [r for r in retrievers if hasattr(r[1], "refit_from")] if self.warm_start else ()
        del retrievers, mask, context, histories
        self.retrievers_ = self._fit_retrievers(view, warm)
        self.exclusion_, self.intervals_ = self._exclusion(view)
        self.context_, self.histories_ = FeatureContext.of(view), Histories.of(view)

    def _forget(self, users: np.ndarray, view: Interactions) -> None:
        """Their events leave every retriever (exactly, for the count-based ones), the
        exclusion mask, the histories, the item features and the ranker's training record;
        the ranker itself, trained on features they contributed to, waits for the refit."""
        for _, model, _ in self.retrievers_:
            model.forget_users(users, view)
        scrubbed = view.without_users(users)
        self.exclusion_ = zero_rows(self.exclusion_, users)
        if self.intervals_ is not None:
            self.intervals_ = repurchase_intervals(scrubbed)
        self.context_, self.histories_ = FeatureContext.of(scrubbed), Histories.of(scrubbed)
        self.training_targets_ = self.training_targets_[~np.isin(self.training_targets_[:, 0], users)]
        self.__dict__.pop("_ranker_data", None)  # the ranker's training rows in memory hold their features

    def with_fusion(self, fusion: str) -> HybridRecommender:
        """The same fitted retrievers and ranker training groups with another fusion ranker
        fitted on them: comparing rankers without refitting the retrievers (same process
        only; the training groups are not saved)."""
        if not hasattr(self, "_ranker_data"):
            raise ValueError("with_fusion needs a hybrid fitted in this process")
        other = HybridRecommender(**{**self.get_params(), "fusion": fusion})
        other.__dict__.update({k: v for k, v in self.__dict__.items() if k.endswith("_") or k == "_ranker_data"})
        other.fusion_ = FUSIONS[fusion](self.columns_, seed=self.seed).fit(*self._ranker_data)
        return other

    # -- ranking -----------------------------------------------------------------------
    def _fuse(self, cands: Candidates, histories: Histories) -> tuple[np.ndarray, pd.DataFrame]:
        X = build_features(None, cands, context=self.context_, histories=histories)
        if list(X.columns) != self.columns_:
            raise ValueError("the features differ from those the ranker was trained on")
        return self.fusion_.predict(X.to_numpy(np.float32)), X

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        """Fused scores on each shopper's candidates (excluded items are not candidates);
        every other item scores -inf: the hybrid does not rank it."""
        out = np.full((len(user_indices), self.n_items_), -np.inf, dtype=np.float32)
        cands = retrieve(self.retrievers_, user_indices, exclude=self.exclusion_)
        scores, _ = self._fuse(cands, self.histories_)
        b = np.repeat(np.arange(len(user_indices)), np.diff(cands.indptr))
        out[b, cands.items] = scores
        return out

    def recommend(self, user_indices, n: int = 10, exclude_seen: bool = True, candidates=None):
        """Top-``n`` fused items per shopper: (items int64 (B, n), scores float32 (B, n)).
        ``exclude_seen`` applies the exclusion policy (``exclude_types``); False excludes
        nothing."""
        self.check_is_fitted()
        users = self._check_users(user_indices)
        if n < 1:
            raise ValueError(f"n must be >= 1. Got {n} instead.")
        mask = self.exclusion_ if exclude_seen else sp.csr_matrix(self.exclusion_.shape, dtype=bool)
        out_i = np.full((len(users), n), -1, dtype=np.int64)
        out_s = np.full((len(users), n), -np.inf, dtype=np.float32)
        for start in range(0, len(users), USER_BLOCK):
            block = users[start:start + USER_BLOCK]
            cands = retrieve(self.retrievers_, block, exclude=mask)
            scores, _ = self._fuse(cands, self.histories_)
            if candidates is not None:
                allowed = _allowed(candidates, start, len(block), self.n_items_)
                scores = np.where(allowed[np.repeat(np.arange(len(block)), np.diff(cands.indptr)),
                                          cands.items], scores, -np.inf)
            for b in range(len(block)):
                rows = self._order(scores, cands, cands.indptr[b], cands.indptr[b + 1], n)
                out_i[start + b, :len(rows)] = cands.items[rows]
                out_s[start + b, :len(rows)] = scores[rows]
        return out_i, out_s

    def rank_history(self, items, types, times, n: int, *, user_index: int | None = None,
                     exclude_types: list[str] | str | None = "default",
                     blocked: np.ndarray | None = None) -> Ranked:
        """One shopper's fused top ``n`` from their events as they are now (item indices,
        type names, unix times, oldest first): how the Engine serves a shopper between
        retrains. ``user_index`` (the shopper's row in the trained view, if any) lets models
        without a live path (``userknn``) take part; ``exclude_types`` overrides the policy
        ("default" = the model's own, None = exclude everything touched); ``blocked`` (item
        indices), when given, is the exclusion the caller already worked out, used instead."""
        self.check_is_fitted()
        items = np.asarray(items, dtype=np.int64)
        hist = Histories.single(items, list(types), times)
        policy = self.exclude_types if exclude_types == "default" else exclude_types
        if blocked is None:
            blocked = self._blocked(hist, policy)
        lists, n_items, profiles = [], self.n_items_, {}
        for _, model, budget in self.retrievers_:
            scores = self._history_scores(model, hist, user_index, profiles)
            if scores is None:
                lists.append((np.full((1, 1), -1, np.int64), np.full((1, 1), -np.inf, np.float32)))
                continue
            scores[blocked] = -np.inf
            lists.append(top_n(scores[None, :], budget))
        cands = merge_lists(np.array([0]), lists, [nm for nm, _, _ in self.retrievers_],
                            [b for _, _, b in self.retrievers_], n_items)
        scores, X = self._fuse(cands, hist)
        order = self._order(scores, cands, 0, len(scores), n)
        return Ranked(items=cands.items[order], scores=scores[order], rows=order, candidates=cands,
                      features=X)

    def _order(self, scores: np.ndarray, cands: Candidates, a: int, b: int, n: int) -> np.ndarray:
        """Rows a..b-1 (one shopper's candidates) shown, best first: see ``ranking.ordering``."""
        return with_new_item(best_rows(scores, a, b, n), scores, cands, a, b, n,
                             position=self.new_item_position, popularity=self.context_.pop_all)

    def _blocked(self, hist: Histories, policy) -> np.ndarray:
        """Item indices the shopper must not be shown under ``policy`` (see exclusion)."""
        now = max(self.context_.now, float(hist.times.max())) if len(hist.times) else None
        return blocked_items(hist.items, hist.types, hist.times, policy, n_items=self.n_items_,
                             intervals=self.intervals_, now=now)

    def _history_scores(self, model: Recommender, hist: Histories, user_index: int | None,
                        profiles: dict | None = None):
        items = [hist.items]
        types = [[list(TYPE_CODES)[t] for t in hist.types]]
        if "sequence" in model.capabilities:
            if len(hist.items) == 0:
                return None
            return np.array(model.score_sequences(items, types, [hist.times])[0], dtype=np.float32)
        if "live" in model.capabilities:
            if len(hist.items) == 0:
                return None
            return np.array(model.score_histories(items, types, [hist.times], cache=profiles)[0],
                            dtype=np.float32)
        if "global" in model.capabilities:
            return np.array(model.score(np.array([0]))[0], dtype=np.float32)
        if user_index is not None:
            return np.array(model.score(np.array([user_index]))[0], dtype=np.float32)
        return None

    def contributions(self, ranked: Ranked) -> pd.DataFrame | None:
        """(k, F + 1) contributions of each feature (and ``bias``) to the fused scores of
        ``ranked``'s items; rows sum to the scores. None when the ranker gives none."""
        if not self.fusion_.explains:
            return None
        X = ranked.features.to_numpy(np.float32)[ranked.rows]
        columns = [*self.columns_, "bias"]
        if len(X) == 0:  # nothing shown (the shop's rules left nothing): LightGBM divides by 0 rows
            return pd.DataFrame(np.zeros((0, len(columns)), np.float32), columns=columns)
        return pd.DataFrame(self.fusion_.contributions(X), columns=columns)

    # -- persistence ----------------------------------------------------------------------
    def _state(self) -> dict:
        fusion_scalars, fusion_arrays = _fusion_parts(self.fusion_)
        ctx = self.context_
        return {"specs_": json.dumps(self.specs_), "columns_": json.dumps(self.columns_),
                "fusion_meta_": json.dumps(fusion_scalars), **fusion_arrays,
                "training_targets_": self.training_targets_, "candidate_recall_": self.candidate_recall_,
                "exclusion_": self.exclusion_.astype(np.float32),
                "intervals_": self.intervals_ if self.intervals_ is not None else np.zeros(0),
                "has_intervals_": self.intervals_ is not None,
                "ctx.now": ctx.now, "ctx.pop_all": ctx.pop_all, "ctx.pop_recent": ctx.pop_recent,
                "ctx.pop_purchase": ctx.pop_purchase,
                "ctx.first_seen": ctx.first_seen, "ctx.price": ctx.price, "ctx.category": ctx.category,
                "ctx.brand": ctx.brand, "hist.indptr": self.histories_.indptr,
                "hist.items": self.histories_.items, "hist.types": self.histories_.types,
                "hist.times": self.histories_.times}

    def _set_state(self, state: dict) -> None:
        self.specs_ = [tuple(s) for s in json.loads(state["specs_"])]
        self.columns_ = json.loads(state["columns_"])
        arrays = {k: v for k, v in state.items() if k.startswith("fusion.")}
        self.fusion_ = restore_fusion(json.loads(state["fusion_meta_"]), arrays)
        self.training_targets_ = state["training_targets_"]
        self.candidate_recall_ = state["candidate_recall_"]
        self.n_users_, self.n_items_ = state["n_users_"], state["n_items_"]
        self.seen_, self.type_weights_ = state["seen_"], state["type_weights_"]
        self.exclusion_ = state["exclusion_"].astype(bool)
        self.intervals_ = state["intervals_"] if state["has_intervals_"] else None
        self.context_ = FeatureContext(
            now=state["ctx.now"], pop_all=state["ctx.pop_all"], pop_recent=state["ctx.pop_recent"],
            pop_purchase=state["ctx.pop_purchase"],
            first_seen=state["ctx.first_seen"], price=state["ctx.price"], category=state["ctx.category"],
            brand=state["ctx.brand"], by_item=self.seen_.T.tocsr())
        self.histories_ = Histories(state["hist.indptr"], state["hist.items"], state["hist.types"],
                                    state["hist.times"])

    def _save_parts(self, path: Path) -> None:
        for name, model, _ in self.retrievers_:
            model.save(path / "retrievers" / name)

    def _load_parts(self, path: Path) -> None:
        self.retrievers_ = [(name, Recommender.load(path / "retrievers" / name), int(budget))
                            for name, budget in self.specs_]


def _allowed(candidates, offset: int, size: int, n_items: int) -> np.ndarray:
    """(size, n_items) bool from a ``recommend`` candidates argument."""
    allowed = np.zeros((size, n_items), dtype=bool)
    if isinstance(candidates, np.ndarray) and candidates.ndim == 1:
        allowed[:, candidates] = True
    else:
        for r in range(size):
            allowed[r, np.asarray(candidates[offset + r], dtype=np.int64)] = True
    return allowed


def _fusion_parts(fusion: Fusion) -> tuple[dict, dict]:
    from shelfwise.ranking.fusion import fusion_state_json

    return fusion_state_json(fusion)

