"""The synthetic shop as a Gymnasium environment: one shopper's next ``horizon`` daily visits,
and on each visit the agent chooses how the pipeline's candidates are re-ranked.

Built on ``simulation`` (the shoppers' true tastes, position bias, satiation and funnel) and
``ranking`` (MMR, the category bandit). Setup, once: a ``GreedyPolicy`` (EASE by default)
fitted on the shop's history gives every shopper a candidate pool of ``pool`` items with
scores, and the pool's catalogue similarity (``ranking.diversity.attribute_similarity``).
Within an episode the model is not refitted (the pool is the pipeline's candidates for the
day; durables the shopper buys leave it).

- **Action** (Discrete(M + 1)): 0..M-1 = MMR with relevance weight ``lambdas[a]`` (1 = the
  greedy top n); M = the greedy top n - 1 plus the category bandit's slot last
  (``CategoryThompson.fill_slot``; the bandit is shared by every episode and learns from
  whether the slot's item was viewed, as ``simulation.BanditPolicy``, in batches of
  ``BANDIT_BATCH`` impressions).
- **Reward**: the purchases the shopper makes from the list (``Shoppers.respond``); the
  return over the episode is the purchases over ``horizon`` days. ``reward="expected"``
  gives instead the expected purchases of the list in today's state (the same funnel's
  probabilities; same mean, far less noise: a training aid the simulator allows and a shop
  does not); the shopper still responds with draws, so the state moves the same way. Satiation decays overnight
  (``ShopperParams.boredom_decay``), so what is shown today changes tomorrow's purchases.
- **Observation** (float32, 3K + D + 5: K categories at depth 2, D departments): what the shop can observe,
  never the truth: per category, the decayed count of items shown to the shopper during the
  episode (/ 5), the decayed purchases, the share of today's greedy list; the greedy list's
  overlap with what was shown lately; the portrait from the history (department shares,
  log events / 5, log purchases / 3, days since the shopper's last purchase in the episode
  / horizon); and the day / horizon.

Randomness: the episode's shopper (unless ``options={"user": u}``) and the response uniforms
come from the environment's ``np_random`` (seeded by ``reset(seed=...)``), so two policies
reset with one seed meet the same shopper with the same draws; the bandit draws from its own
generator.
"""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import scipy.sparse as sp

from shelfwise.data.interactions import TYPE_CODES
from shelfwise.ranking.catalogue import category_codes
from shelfwise.ranking.diversity import attribute_similarity, mmr
from shelfwise.ranking.exploration import CategoryThompson
from shelfwise.simulation.environment import ShopEnvironment
from shelfwise.simulation.policies import GreedyPolicy

SHOWN_DECAY = 0.8  # the observable history's decay per day (the shop's guess, not the truth)
BANDIT_BATCH = 100  # slot impressions per bandit update


class ShopperEnv(gym.Env):
    """See the module docstring. users: shopper indices episodes draw from (None = all)."""

    metadata = {"render_modes": []}

    def __init__(self, shop, *, params=None, n: int = 10, pool: int = 50, horizon: int = 20,
                 lambdas: tuple[float, ...] = (1.0, 0.7, 0.5, 0.3), bandit: bool = True,
                 users=None, model: str = "ease", reward: str = "purchases", seed: int = 0):
        if n < 2 or pool < n or horizon < 1:
            raise ValueError(f"need n >= 2, pool >= n and horizon >= 1. Got n={n}, pool={pool}, "
                             f"horizon={horizon} instead.")
        if not lambdas or any(not 0 <= lam <= 1 for lam in lambdas):
            raise ValueError(f"lambdas must be non-empty and in [0, 1]. Got {lambdas!r} instead.")
        if reward not in ("purchases", "expected"):
            raise ValueError(f"reward must be 'purchases' or 'expected'. Got {reward!r} instead.")
        self.n, self.horizon, self.lambdas, self.with_bandit = n, horizon, tuple(lambdas), bandit
        self.reward_mode = reward
        shop_env = ShopEnvironment(shop, params, n=n, seed=seed)
        self.shoppers = shop_env.shoppers
        inter = shop_env.interactions()
        self.n_items = inter.n_items
        self.users = np.arange(inter.n_users) if users is None else np.asarray(users, dtype=np.int64)
        ranker = GreedyPolicy(model=model, pool=pool).fit(inter)
        self.pool, self.scores = ranker.candidates(np.arange(inter.n_users))  # (U, L) best first
        self.sim = attribute_similarity(inter.items, self.pool)  # (U, L, L)
        self.categories = self.shoppers.categories  # (n_items,) depth-2 codes
        self.k = max(int(self.categories.max(initial=-1)) + 1, 1)
        self.owned0 = self.shoppers.owned.copy()
        dept, _ = category_codes(inter.items, inter.n_items, depth=1)
        ok = dept >= 0
        onehot = sp.csr_matrix((np.ones(ok.sum()), (np.flatnonzero(ok), dept[ok])),
                               shape=(inter.n_items, max(int(dept.max(initial=-1)) + 1, 1)))
        counts = np.asarray((inter.binary @ onehot).todense())
        share = counts / np.maximum(counts.sum(1, keepdims=True), 1.0)
        events = np.diff(inter.seq_indptr)
        owner = np.repeat(np.arange(inter.n_users), events)  # (n_events,) user of each event
        buys = np.bincount(owner[inter.seq_types == TYPE_CODES["purchase"]], minlength=inter.n_users)
        self.portrait = np.column_stack([share, np.log1p(events) / 5, np.log1p(buys) / 3]).astype(np.float32)
        # fewer Monte-Carlo draws than serving: the env needs the bandit's choice, not exact
        # propensities, and every posterior update costs a fresh estimate
        self.bandit = CategoryThompson(self.k, seed=seed, n_samples=2000)
        self._bandit_news: list[tuple[int, float]] = []
        self._bandit_rng = np.random.default_rng([seed, 2])
        self.action_space = gym.spaces.Discrete(len(self.lambdas) + int(bandit))
        size = 3 * self.k + self.portrait.shape[1] + 3
        self.observation_space = gym.spaces.Box(0.0, 100.0, shape=(size,), dtype=np.float32)
        self.user = int(self.users[0])

    def clone(self) -> ShopperEnv:
        """Another environment over the same shop, pools and bandit, with its own shoppers'
        state and random generator (for vectorised training without refitting the ranker)."""
        other = copy.copy(self)
        other.shoppers = copy.copy(self.shoppers)
        other.shoppers.fatigue = self.shoppers.fatigue.copy()
        other.shoppers.owned = self.shoppers.owned.copy()
        other._bandit_news = []
        other._np_random = None
        return other

    def reset_bandit(self, seed: int = 0) -> None:
        """A fresh category bandit (prior posteriors, its generator reseeded), so every
        evaluation starts the bandit from the same point."""
        self.bandit = CategoryThompson(self.k, seed=seed, n_samples=2000)
        self._bandit_rng = np.random.default_rng([seed, 2])
        self._bandit_news = []

    # -- gymnasium -------------------------------------------------------------------------
    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        user = (options or {}).get("user")
        self.user = int(self.np_random.choice(self.users)) if user is None else int(user)
        self.shoppers.fatigue[self.user] = 0.0
        self.shoppers.owned[self.user] = self.owned0[self.user]
        self.t, self.last_buy = 0, -1
        self.shown = np.zeros(self.k)
        self.bought = np.zeros(self.k)
        return self._obs(), {}

    def step(self, action):
        action = int(action)
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in [0, {self.action_space.n}). Got {action} instead.")
        items = self.slate(action)
        uniforms = self.np_random.random((1, self.n, 4))
        expected = self._expected_purchases(items) if self.reward_mode == "expected" else 0.0
        r = self.shoppers.respond(np.array([self.user]), items[None, :], uniforms)
        if action == len(self.lambdas) and items[-1] >= 0:
            self._bandit_news.append((int(self.categories[items[-1]]), float(r.viewed[0, -1])))
            if len(self._bandit_news) >= BANDIT_BATCH:  # learns in batches, as the shop's once a day
                cats, clicks = zip(*self._bandit_news, strict=True)
                self.bandit.update(list(cats), list(clicks))
                self._bandit_news = []
        cats = self.categories[items[items >= 0]]
        self.shown = SHOWN_DECAY * self.shown + np.bincount(cats[cats >= 0], minlength=self.k)
        got = items[r.purchased[0]]
        self.bought = SHOWN_DECAY * self.bought + np.bincount(
            self.categories[got][self.categories[got] >= 0], minlength=self.k)
        if len(got):
            self.last_buy = self.t
        self.shoppers.fatigue[self.user] *= self.shoppers.params.boredom_decay  # overnight
        self.t += 1
        reward = float(r.purchased.sum()) if self.reward_mode == "purchases" else expected
        info = {"items": items, "purchased": r.purchased[0], "viewed": r.viewed[0], "uniforms": uniforms[0]}
        return self._obs(), reward, self.t >= self.horizon, False, info

    def serving_request(self, action: int) -> dict:
        """The serving path's ``ListRequest`` fields that serve ``action``'s re-ranking: MMR with
        weight lambda is ``diversity``; the bandit action is the greedy list with the
        exploration slot (``explore``). This is the hook by which a learned policy is served:
        an experiment's variant (or the caller) sets these fields per request from the agent's
        choice, and the list goes through the one serving path like any other. (The serving
        bandit's arms are top-level categories; this environment's are two levels deep.)"""
        action = int(action)
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in [0, {self.action_space.n}). Got {action} instead.")
        if action == len(self.lambdas):
            return {"diversity": 1.0, "explore": True}
        return {"diversity": float(self.lambdas[action]), "explore": False}

    # -- the lists ---------------------------------------------------------------------------
    def _available(self) -> np.ndarray:
        """(L,) bool: the pool's items still worth showing (not a durable bought since)."""
        row = self.pool[self.user]
        return (row >= 0) & ~self.shoppers.owned[self.user, np.maximum(row, 0)]

    def slate(self, action: int) -> np.ndarray:
        """(n,) items shown for ``action`` today (-1 padded)."""
        ok = self._available()
        items, scores = self.pool[self.user][ok], self.scores[self.user][ok]
        out = np.full(self.n, -1, dtype=np.int64)
        if action == len(self.lambdas):  # greedy n - 1 + the bandit's slot
            top = items[: self.n - 1]
            out[: len(top)] = top
            pick = self.bandit.fill_slot(items, self.categories, self._bandit_rng, taken=top.tolist())
            if pick is not None:
                out[len(top)] = pick.item
            return out
        lam = self.lambdas[action]
        if lam >= 1:
            out[: min(self.n, len(items))] = items[: self.n]
            return out
        sim = self.sim[self.user][np.ix_(ok, ok)]
        chosen, _ = mmr(items[None, :], scores[None, :], sim[None], self.n, lam)
        return chosen[0]

    def _expected_purchases(self, items: np.ndarray) -> float:
        """Expected purchases from the list ``items`` (n,) in today's state (the funnel of
        ``simulation.shoppers`` with its probabilities instead of draws)."""
        p = self.shoppers.params
        a = self.shoppers.attraction(np.array([self.user]), items[None, :])[0]
        stock = self.shoppers.in_stock[np.maximum(items, 0)] & (items >= 0)
        return float((self.shoppers.examination(self.n) * a * p.cart_rate * a * stock
                      * (p.buy_base + p.buy_slope * a)).sum())

    def _obs(self) -> np.ndarray:
        greedy = self.slate(0) if self.lambdas[0] >= 1 else self.pool[self.user][: self.n]
        cats = self.categories[greedy[greedy >= 0]]
        hist = np.bincount(cats[cats >= 0], minlength=self.k) / self.n
        overlap = float((hist * self.shown).sum()) / 5
        since = (self.t - self.last_buy) / self.horizon if self.last_buy >= 0 else 1.0
        return np.concatenate([self.shown / 5, self.bought, hist, self.portrait[self.user],
                               [overlap, since, self.t / self.horizon]]).astype(np.float32)
