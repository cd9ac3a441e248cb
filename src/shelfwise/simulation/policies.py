"""Policies that choose what each simulated shopper is shown, built from the ranking modules.

Every policy ranks with a real shelfwise model (``shelfwise.models``, EASE by default) that it
refits on the whole event log (history plus simulated responses) when the environment asks
(``fit``). The shared candidate pool of a shopper is the model's ranking over the items the
business rules let through (``ranking.rules``: in stock, not hidden), minus the items
``ranking.exclusion`` excludes (purchased, until a consumable's learned repurchase interval
has passed), cut to ``pool`` items. Then:

- ``GreedyPolicy``: the pool's first n.
- ``MMRPolicy``: ``ranking.diversity.mmr`` over the pool with catalogue similarity
  (``attribute_similarity``: shared category path and brand) and the ``lam`` knob.
- ``BanditPolicy``: the greedy first n - 1, plus an exploration slot at position ``slot``
  filled by ``ranking.exploration.CategoryThompson.fill_slot`` from the rest of the pool. The
  bandit's arms are the catalogue categories at ``category_depth`` levels; it keeps its
  posteriors across refits and learns once a day (``observe``) from whether the slot's item
  was viewed; a slot the shopper never examined counts as not clicked, since a shop cannot
  tell the two apart.

``recommend`` returns a ``Slate``: items (B, n) and the probability with which the policy put
each item there given its state: 1 for deterministic positions, the bandit's logged
propensity for the exploration slot.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.models import create
from shelfwise.models.base import NotFittedError
from shelfwise.ranking.catalogue import category_codes
from shelfwise.ranking.diversity import attribute_similarity, mmr
from shelfwise.ranking.exclusion import drop_excluded, exclusion_mask, repurchase_intervals
from shelfwise.ranking.exploration import CategoryThompson
from shelfwise.ranking.rules import RuleSet, compile_rules
from shelfwise.simulation.shoppers import Responses


@dataclass(frozen=True)
class Slate:
    """The lists shown to B shoppers."""

    items: np.ndarray  # (B, n) int64 item indices, -1 = empty position
    propensities: np.ndarray  # (B, n) float64 probability of this item at this position
    explored: np.ndarray  # (B, n) bool: the position was filled by exploration


class Policy(ABC):
    """What a simulated shop shows. ``fit`` on the event log, ``recommend`` per day, ``observe``
    the day's responses."""

    name: str = ""

    @abstractmethod
    def fit(self, interactions: Interactions) -> Policy: ...

    @abstractmethod
    def recommend(self, users: np.ndarray, n: int, rng: np.random.Generator) -> Slate: ...

    def observe(self, slate: Slate, responses: Responses) -> None:  # noqa: B027 - optional hook
        """Learn from the day's responses; the default learns only at ``fit``."""


class RankedPolicy(Policy):
    """A fitted model's ranking under the shop's rules and exclusion; subclasses order the pool.

    model: a registry name (``shelfwise.models.MODELS``) refitted with ``model_params`` at
    every ``fit``; pool: candidates per shopper (None = the whole ranked catalogue); rules:
    the business rules (default: only in-stock items); exclude_types: behaviours whose items
    are not shown again.
    """

    def __init__(self, *, model: str = "ease", model_params: dict | None = None,
                 pool: int | None = 100, rules: RuleSet | None = None,
                 exclude_types: tuple[str, ...] = ("purchase",)):
        if pool is not None and pool < 1:
            raise ValueError(f"pool must be >= 1 or None. Got {pool} instead.")
        self.model = model
        self.model_params = dict(model_params or {})
        self.pool = pool
        self.rules = rules or RuleSet()
        self.exclude_types = tuple(exclude_types)

    def fit(self, interactions: Interactions) -> RankedPolicy:
        self.model_ = create(self.model, **self.model_params).fit(interactions)
        self.catalogue_ = interactions.items
        self.eligible_ = compile_rules(self.rules, interactions.items, interactions.item_ids).eligible
        self.exclude_ = exclusion_mask(interactions, self.exclude_types,
                                       intervals=repurchase_intervals(interactions))
        return self

    def candidates(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(items int64 (B, pool), scores float32 (B, pool)) best first, -1 / -inf padded."""
        if not hasattr(self, "model_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit().")
        users = np.asarray(users, dtype=np.int64)
        allowed = np.flatnonzero(self.eligible_)
        # fetch as many extra as the most-excluded shopper needs, as ranking.candidates does
        extra = int(np.diff(self.exclude_[users].indptr).max(initial=0))
        pool = len(allowed) if self.pool is None else self.pool
        n = max(1, min(pool + extra, len(allowed)))
        items, scores = self.model_.recommend(users, n=n, exclude_seen=False, candidates=allowed)
        return drop_excluded(items, scores, users, self.exclude_, max(pool, 1))

    def recommend(self, users: np.ndarray, n: int, rng: np.random.Generator) -> Slate:
        items = self._order(*self.candidates(users), n)
        return Slate(items=items, propensities=np.where(items >= 0, 1.0, 0.0),
                     explored=np.zeros(items.shape, bool))

    @abstractmethod
    def _order(self, items: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
        """(B, n) items shown, from the (B, pool) candidates."""


def _first(items: np.ndarray, n: int) -> np.ndarray:
    """The first n columns, padded with -1 when the pool is shorter."""
    out = np.full((len(items), n), -1, dtype=np.int64)
    k = min(n, items.shape[1])
    out[:, :k] = items[:, :k]
    return out


class GreedyPolicy(RankedPolicy):
    """The model's top n."""

    name = "greedy"

    def _order(self, items, scores, n):
        return _first(items, n)


class MMRPolicy(RankedPolicy):
    """Maximal-marginal-relevance re-ranking of the pool (``ranking.diversity.mmr``)."""

    def __init__(self, *, lam: float = 0.7, **kwargs):
        if not 0 <= lam <= 1:
            raise ValueError(f"lam must be in [0, 1]. Got {lam} instead.")
        super().__init__(**kwargs)
        self.lam = lam
        self.name = f"mmr({lam:g})"

    def _order(self, items, scores, n):
        chosen, _ = mmr(items, scores, attribute_similarity(self.catalogue_, items), n, self.lam)
        return chosen


class BanditPolicy(GreedyPolicy):
    """Greedy top n - 1 plus a Thompson-sampling exploration slot over categories.

    The pool defaults to the whole ranked catalogue, so every category with an eligible item
    is offered and the slot shows the shopper's best-ranked item of the category drawn (a
    short pool offers a different set of categories to nearly every shopper, and each distinct
    set costs ``CategoryThompson`` a fresh Monte-Carlo estimate of the propensities).

    slot: 0-based position of the exploration slot (clipped to the list's end);
    category_depth: catalogue levels that make an arm; prior_alpha / prior_beta / n_samples:
    ``CategoryThompson``'s.
    """

    name = "bandit"

    def __init__(self, *, slot: int = 9, category_depth: int = 2, prior_alpha: float = 1.0,
                 prior_beta: float = 1.0, n_samples: int = 20_000, seed: int = 0,
                 pool: int | None = None, **kwargs):
        if slot < 0:
            raise ValueError(f"slot must be >= 0. Got {slot} instead.")
        if category_depth < 1:
            raise ValueError(f"category_depth must be >= 1. Got {category_depth} instead.")
        super().__init__(pool=pool, **kwargs)
        self.slot = slot
        self.category_depth = category_depth
        self.prior = (prior_alpha, prior_beta)
        self.n_samples = n_samples
        self.seed = seed

    def fit(self, interactions: Interactions) -> BanditPolicy:
        super().fit(interactions)
        if not hasattr(self, "bandit_"):  # the posteriors outlive refits of the model
            self.categories_, names = category_codes(interactions.items, interactions.n_items,
                                                     depth=self.category_depth)
            self.bandit_ = CategoryThompson(max(len(names), 1), prior_alpha=self.prior[0],
                                            prior_beta=self.prior[1], n_samples=self.n_samples,
                                            seed=self.seed)
        return self

    def recommend(self, users: np.ndarray, n: int, rng: np.random.Generator) -> Slate:
        pool, _ = self.candidates(users)
        slot = min(self.slot, n - 1)
        greedy = _first(pool, n - 1)
        items = np.full((len(pool), n), -1, dtype=np.int64)
        prop = np.zeros((len(pool), n))
        explored = np.zeros((len(pool), n), bool)
        for b in range(len(pool)):
            pick = self.bandit_.fill_slot(pool[b], self.categories_, rng, eligible=self.eligible_,
                                          taken=greedy[b][greedy[b] >= 0])
            row = greedy[b][greedy[b] >= 0].tolist()
            if pick is None:  # nothing left to explore with: the list stays greedy
                items[b, :len(row)] = row
                prop[b, :len(row)] = 1.0
                continue
            at = min(slot, len(row))
            row.insert(at, pick.item)
            items[b, :len(row)] = row
            prop[b, :len(row)] = 1.0
            prop[b, at] = pick.propensity
            explored[b, at] = True
        return Slate(items=items, propensities=prop, explored=explored)

    def observe(self, slate: Slate, responses: Responses) -> None:
        """One Beta update per exploration impression: clicked = the shopper viewed it."""
        shown = slate.explored
        self.bandit_.update(self.categories_[slate.items[shown]], responses.viewed[shown].astype(float))
