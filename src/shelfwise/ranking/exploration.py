"""An exploration slot filled by Thompson sampling over categories, with logged propensities.

Each category k has a Beta(alpha_k, beta_k) posterior over its click rate, from a prior and
the impressions / clicks fed to ``update``. Thompson sampling shows the category whose
posterior draw is highest; the probability that it picks category k is

    p_k = P(X_k = max_j X_j),   X_j ~ Beta(alpha_j, beta_j) independent,

estimated here by Monte Carlo with ``n_samples`` draws from a fixed seed, so ``p`` is a
deterministic function of the posteriors. The policy then draws the category from ``p``
itself (with the caller's random generator): the propensity logged with what was shown is
exactly the probability with which it was chosen, which is what off-policy evaluation
(inverse propensity scoring) needs. Categories with no eligible item for this shopper are
not offered, and ``p`` is taken over the others.

The item shown for a category is the best-ranked eligible item of that category in the
shopper's candidate list, so the item's propensity equals its category's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ExplorationPick:
    item: int  # item index shown in the slot
    category: int  # category code it was chosen for
    propensity: float  # probability that the policy chose this category (and so this item)


class CategoryThompson:
    """Thompson-sampling bandit over ``n_categories`` arms with Beta posteriors."""

    def __init__(self, n_categories: int, *, prior_alpha: float = 1.0, prior_beta: float = 1.0,
                 n_samples: int = 20_000, seed: int = 0):
        if n_categories < 1:
            raise ValueError(f"n_categories must be >= 1. Got {n_categories} instead.")
        if prior_alpha <= 0 or prior_beta <= 0:
            raise ValueError(f"Beta priors must be > 0. Got ({prior_alpha}, {prior_beta}) instead.")
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1. Got {n_samples} instead.")
        self.n_categories = n_categories
        self.n_samples = n_samples
        self.seed = seed
        self.alpha_ = np.full(n_categories, float(prior_alpha))
        self.beta_ = np.full(n_categories, float(prior_beta))

    def update(self, categories, clicks) -> CategoryThompson:
        """Add impressions of ``categories`` (k,) with outcomes ``clicks`` (k,) in [0, 1]."""
        cats = np.atleast_1d(np.asarray(categories, dtype=np.int64))
        y = np.atleast_1d(np.asarray(clicks, dtype=np.float64))
        if cats.shape != y.shape:
            raise ValueError(f"categories and clicks must have the same shape. "
                             f"Got {cats.shape} and {y.shape} instead.")
        if len(cats) and (cats.min() < 0 or cats.max() >= self.n_categories):
            raise ValueError(f"categories must be in [0, {self.n_categories}).")
        if len(y) and (np.isnan(y).any() or y.min() < 0 or y.max() > 1):
            raise ValueError("clicks must be in [0, 1].")
        np.add.at(self.alpha_, cats, y)
        np.add.at(self.beta_, cats, 1.0 - y)
        self._cache = {}  # the posteriors moved: earlier propensities no longer hold
        return self

    def propensities(self, allowed: np.ndarray | None = None) -> np.ndarray:
        """(n_categories,) probability that Thompson sampling picks each category; 0 outside
        ``allowed`` ((n_categories,) bool, None = all). Sums to 1 over allowed categories."""
        idx = np.arange(self.n_categories) if allowed is None else np.flatnonzero(allowed)
        # the same posteriors and offer always give the same p: compute each once
        cache = self.__dict__.setdefault("_cache", {})
        key = (idx.tobytes(), self.alpha_.tobytes(), self.beta_.tobytes())
        if key not in cache:
            p = np.zeros(self.n_categories)
            if len(idx):
                rng = np.random.default_rng(self.seed)
                draws = rng.beta(self.alpha_[idx], self.beta_[idx], size=(self.n_samples, len(idx)))
                p[idx] = np.bincount(draws.argmax(axis=1), minlength=len(idx)) / self.n_samples
            p.setflags(write=False)
            cache[key] = p
        return cache[key]

    def choose(self, rng: np.random.Generator, allowed: np.ndarray | None = None) -> tuple[int, float]:
        """(category, propensity) drawn from ``propensities(allowed)``."""
        p = self.propensities(allowed)
        if p.sum() == 0:
            raise ValueError("no category is allowed")
        k = int(rng.choice(self.n_categories, p=p))
        return k, float(p[k])

    def fill_slot(self, ranked_items, item_category: np.ndarray, rng: np.random.Generator,
                  eligible: np.ndarray | None = None, taken=()) -> ExplorationPick | None:
        """Pick the exploration item from one shopper's ranked candidates (L,) (-1 = padding).

        item_category: (n_items,) category code per item (-1 = none, never offered);
        eligible: (n_items,) bool, e.g. ``CompiledRules.eligible``, so the slot obeys the same
        rules as the list; taken: items already in the list. None when nothing is eligible.
        """
        items = np.asarray(ranked_items, dtype=np.int64)
        items = items[items >= 0]
        items = items[~np.isin(items, np.asarray(list(taken), dtype=np.int64))]
        if eligible is not None:
            items = items[np.asarray(eligible, dtype=bool)[items]]
        cats = np.asarray(item_category, dtype=np.int64)[items]
        items, cats = items[cats >= 0], cats[cats >= 0]
        if len(items) == 0:
            return None
        allowed = np.zeros(self.n_categories, dtype=bool)
        allowed[cats] = True
        k, p = self.choose(rng, allowed)
        return ExplorationPick(item=int(items[np.argmax(cats == k)]), category=k, propensity=p)
