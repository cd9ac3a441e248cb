"""A logged exploration slot in the simulated shop, with the truth to hold estimates against.

``SlotPolicy`` shows the greedy first n - 1 items of a ranked pool (as
``simulation.BanditPolicy``) and fills one slot by drawing a category from an action
distribution (``Thompson``: the shop's category bandit, ``Uniform``, ``Affinity``: a softmax of
the shopper's history shares); the item shown for a category is the best-ranked item of that
category in the rest of the pool (``ranking.exploration.CategoryThompson.fill_slot``'s rule),
so a category's propensity is its item's. Played in ``simulation.ShopEnvironment`` it keeps,
for every slot it filled, the full context: the categories offered, its distribution over them,
the item each would have shown, and (given the environment's shoppers) the true expected click
(view) and purchase of each, computed from ``simulation.Shoppers`` before the day's responses.
``log()`` returns that as an ``ope.BanditLog``; ``target_dist`` gives any other distribution's
probabilities on the same contexts; ``resample`` redraws actions and rewards on the same
contexts (many logs with known propensities, for the unbiasedness check).

Features of a (shopper, category) pair for the reward model: the category one-hot, the
shopper's history share of the category, the item's rank in the pool / pool length, and
log(1 + item popularity) / 10.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shelfwise.experiments.ope import BanditLog
from shelfwise.ranking.catalogue import category_codes
from shelfwise.ranking.exploration import CategoryThompson
from shelfwise.simulation.policies import GreedyPolicy, Slate, _first


class Uniform:
    """Every offered category alike."""

    name = "uniform"

    def probs(self, users, allowed, policy) -> np.ndarray:
        return allowed / allowed.sum(1, keepdims=True)


class Affinity:
    """Softmax over offered categories of the shopper's history share / ``temperature``,
    mixed with ``epsilon`` uniform (so every offered category keeps some mass)."""

    def __init__(self, temperature: float = 0.1, epsilon: float = 0.1):
        self.temperature, self.epsilon = temperature, epsilon
        self.name = f"affinity(T={temperature:g}, eps={epsilon:g})"

    def probs(self, users, allowed, policy) -> np.ndarray:
        z = np.where(allowed, policy.affinity_[users] / self.temperature, -np.inf)
        e = np.exp(z - z.max(1, keepdims=True))
        soft = e / e.sum(1, keepdims=True)
        return (1 - self.epsilon) * soft + self.epsilon * allowed / allowed.sum(1, keepdims=True)


class Thompson:
    """The shop's category bandit (``CategoryThompson``); ``learn`` False keeps its
    posteriors frozen (a fixed policy)."""

    def __init__(self, bandit: CategoryThompson, learn: bool = True):
        self.bandit, self.learn = bandit, learn
        self.name = "thompson" if learn else "thompson(frozen)"

    def probs(self, users, allowed, policy) -> np.ndarray:
        return np.stack([self.bandit.propensities(a) for a in allowed])

    def update(self, categories, clicks) -> None:
        if self.learn:
            self.bandit.update(categories, clicks)


class SlotPolicy(GreedyPolicy):
    """Greedy n - 1 plus one slot at ``slot`` drawn from ``distribution``; see the module doc.

    shoppers: the environment's ``simulation.Shoppers``, read for the truth only."""

    def __init__(self, distribution, *, slot: int = 0, category_depth: int = 2, shoppers=None,
                 pool: int | None = 100, **kwargs):
        super().__init__(pool=pool, **kwargs)
        self.distribution, self.slot, self.category_depth = distribution, slot, category_depth
        self.shoppers = shoppers
        self.name = f"slot:{distribution.name}"
        self._rows: list[dict] = []

    def fit(self, interactions):
        super().fit(interactions)
        self.categories_, self.category_names_ = category_codes(interactions.items, interactions.n_items,
                                                                depth=self.category_depth)
        k = max(len(self.category_names_), 1)
        ok = self.categories_ >= 0
        onehot = sp.csr_matrix((np.ones(ok.sum()), (np.flatnonzero(ok), self.categories_[ok])),
                               shape=(interactions.n_items, k))
        counts = np.asarray((interactions.matrix @ onehot).todense())  # (n_users, K) weights
        self.affinity_ = counts / np.maximum(counts.sum(1, keepdims=True), 1e-12)
        self.popularity_ = np.log1p(interactions.item_popularity()) / 10.0
        return self

    def _offer(self, pool: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """greedy (B, n - 1), item per category (B, K) (-1: not offered), its rank (B, K)."""
        greedy = _first(pool, n - 1)
        rest = pool.copy()
        rest[:, : n - 1] = -1
        cats = np.where(rest >= 0, self.categories_[np.maximum(rest, 0)], -1)  # (B, L)
        k = self.affinity_.shape[1]
        item = np.full((len(pool), k), -1, dtype=np.int64)
        rank = np.zeros((len(pool), k))
        rows = np.arange(len(pool))
        for c in range(k):
            hit = cats == c
            first = hit.argmax(1)
            has = hit.any(1)
            item[has, c] = rest[rows[has], first[has]]
            rank[has, c] = first[has] / max(pool.shape[1], 1)
        return greedy, item, rank

    def recommend(self, users, n, rng) -> Slate:
        users = np.asarray(users, dtype=np.int64)
        pool, _ = self.candidates(users)
        greedy, item, rank = self._offer(pool, n)
        allowed = item >= 0
        has = allowed.any(1)
        dist = np.zeros(allowed.shape)
        if has.any():
            dist[has] = self.distribution.probs(users[has], allowed[has], self)
        chosen = np.array([rng.choice(dist.shape[1], p=p) if h else -1 for p, h in zip(dist, has, strict=True)])
        slot = min(self.slot, n - 1)
        items = np.full((len(users), n), -1, dtype=np.int64)
        prop = np.zeros((len(users), n))
        explored = np.zeros((len(users), n), bool)
        for b in range(len(users)):
            row = greedy[b][greedy[b] >= 0].tolist()
            at = min(slot, len(row))
            if has[b]:
                row.insert(at, int(item[b, chosen[b]]))
            items[b, :len(row)] = row
            prop[b, :len(row)] = 1.0
            if has[b]:
                prop[b, at], explored[b, at] = dist[b, chosen[b]], True
        self._record(users[has], chosen[has], dist[has], item[has], rank[has],
                     np.array([min(slot, int((greedy[b] >= 0).sum())) for b in np.flatnonzero(has)]))
        return Slate(items=items, propensities=prop, explored=explored)

    def _record(self, users, chosen, dist, item, rank, position) -> None:
        k = dist.shape[1]
        safe = np.maximum(item, 0)
        feats = np.concatenate([np.broadcast_to(np.eye(k), (len(users), k, k)),
                                self.affinity_[users][:, :, None], rank[:, :, None],
                                self.popularity_[safe][:, :, None]], axis=2).astype(np.float32)
        row = {"users": users, "actions": chosen, "dist": dist, "item": item, "features": feats}
        if self.shoppers is not None:
            row.update(zip(("click", "purchase"), true_rates(self.shoppers, users, item, position), strict=True))
        self._rows.append(row)

    def observe(self, slate: Slate, responses) -> None:
        b, k = np.nonzero(slate.explored)
        self._rows[-1]["r_click"] = responses.viewed[b, k].astype(float)
        self._rows[-1]["r_purchase"] = responses.purchased[b, k].astype(float)
        if hasattr(self.distribution, "update"):
            self.distribution.update(self.categories_[slate.items[b, k]], responses.viewed[b, k].astype(float))

    def log(self) -> BanditLog:
        """Every slot this policy filled so far, as an ``ope.BanditLog``."""
        def cat(key):
            return np.concatenate([r[key] for r in self._rows])
        dist, actions, item = cat("dist"), cat("actions"), cat("item")
        truth = {k: cat(k) for k in ("click", "purchase") if self._rows and k in self._rows[0]}
        return BanditLog(users=cat("users"), actions=actions,
                         propensities=dist[np.arange(len(actions)), actions],
                         rewards={"click": cat("r_click"), "purchase": cat("r_purchase")},
                         features=cat("features"), allowed=item >= 0,
                         items=item[np.arange(len(actions)), actions],
                         action_names=tuple(str(c) for c in self.category_names_),
                         logging_dist=dist, truth=truth)

    def target_dist(self, distribution, log: BanditLog) -> np.ndarray:
        """(n, K) another distribution's probabilities on the logged contexts."""
        return distribution.probs(log.users, log.allowed, self)


def true_rates(shoppers, users, item, position) -> tuple[np.ndarray, np.ndarray]:
    """(B, K) expected view and purchase of showing ``item`` (B, K) (-1: none) at ``position``
    (B,) to ``users`` (B,), from the shoppers' current state (``simulation.shoppers``)."""
    p = shoppers.params
    a = shoppers.attraction(users, item)  # (B, K), 0 for -1 and owned durables
    exam = shoppers.examination(int(position.max(initial=0)) + 1)[position][:, None]
    in_stock = shoppers.in_stock[np.maximum(item, 0)] & (item >= 0)
    view = exam * a
    return view, view * p.cart_rate * a * in_stock * (p.buy_base + p.buy_slope * a)


def resample(log: BanditLog, rng: np.random.Generator) -> BanditLog:
    """The same contexts with actions redrawn from the logging distribution and rewards from
    the truth: an independent log with known propensities."""
    cdf = log.logging_dist.cumsum(1)
    cdf /= cdf[:, -1:]  # exactly 1 at the end, so an action of probability 0 is never drawn
    actions = (cdf < rng.random(log.n)[:, None]).sum(1)
    rows = np.arange(log.n)
    rewards = {k: (rng.random(log.n) < t[rows, actions]).astype(float) for k, t in log.truth.items()}
    return BanditLog(users=log.users, actions=actions, propensities=log.logging_dist[rows, actions],
                     rewards=rewards, features=log.features, allowed=log.allowed,
                     action_names=log.action_names, logging_dist=log.logging_dist, truth=log.truth,
                     items=None)
