"""The synthetic shop as an environment: simulated days in which shoppers answer a policy.

Start: the generated shop's history (``SyntheticShop.events``) is the event log; the first
simulated day begins at the first midnight (UTC) after its last event. Durables bought in the
history count as owned (``shoppers.Shoppers``).

Each simulated day d (``step``):

1. **Visits.** Shopper s visits with probability min(1, ``visit_rate`` * a_s / mean(a)),
   a_s = their number of events in the history: the generator's heavy-tailed activity.
2. **Lists.** The policy shows every visitor one list of ``n`` items
   (``policies.Policy.recommend``), at a uniform time of day.
3. **Responses** by the shoppers' true tastes, position bias and satiation
   (``shoppers.Shoppers.respond``).
4. **Events.** Every view, cart and purchase becomes an event of the canonical frame
   (``data.schemas.EVENT_COLUMNS``: a view 30 s per position after the visit, a cart 10 s and
   a purchase 10 min after its view, the purchase valued at the item's price; one session per
   visit; event ids derived from content) and is appended to the log.
5. The policy ``observe``-s the day's responses; satiation decays overnight.

``run`` fits the policy on the log, then plays ``days`` days and refits the policy on the
whole log after every ``refit_every``-th day. Every shown item is logged as an exposure
(``EXPOSURE_COLUMNS``), with the policy's propensity for it.

Seeded and deterministic, with common random numbers: visits, visit times and the response
uniforms (n_users, n, 4) come from a generator seeded by (seed, day), drawn for every shopper
and position whatever the policy shows, so two policies run with one seed meet the same
visitors with the same draws; the policy's own randomness (exploration) has a separate stream
seeded by (seed, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.data.schemas import EVENT_COLUMNS, derive_event_ids
from shelfwise.data.synthetic import SyntheticShop
from shelfwise.simulation.metrics import daily_metrics
from shelfwise.simulation.policies import Policy
from shelfwise.simulation.shoppers import Responses, ShopperParams, Shoppers

DAY = 86400.0
EXPOSURE_COLUMNS = ("day", "user", "position", "item", "category", "propensity", "explored",
                    "examined", "viewed", "carted", "purchased", "revenue")


@dataclass(frozen=True)
class Trajectory:
    """One policy's simulated days."""

    policy: str
    exposures: pd.DataFrame  # one row per shown item, EXPOSURE_COLUMNS
    daily: pd.DataFrame  # one row per day, ``metrics.daily_metrics``


class ShopEnvironment:
    """Simulated days on a generated shop. n: list length; visit_rate: mean daily visit
    probability; seed: fixes every draw (see the module docstring)."""

    def __init__(self, shop: SyntheticShop, params: ShopperParams | None = None, *, n: int = 10,
                 visit_rate: float = 0.3, seed: int = 0):
        if n < 1:
            raise ValueError(f"n must be >= 1. Got {n} instead.")
        if not 0 < visit_rate <= 1:
            raise ValueError(f"visit_rate must be in (0, 1]. Got {visit_rate} instead.")
        self.n, self.seed = n, seed
        self.user_ids = np.asarray(shop.user_ids, dtype=object)
        self.item_ids = np.asarray(shop.item_ids, dtype=object)
        history = shop.events.reindex(columns=list(EVENT_COLUMNS))
        self._events = [history]
        self._interactions: Interactions | None = None
        self._shop_items = shop.items
        first = self.interactions()
        self.catalogue = first.items
        bought = Interactions.from_events(history[history["event_type"] == "purchase"],
                                          user_ids=self.user_ids, item_ids=self.item_ids)
        self.shoppers = Shoppers(shop.truth, self.catalogue, owned=bought.binary.toarray() > 0,
                                 params=params)
        activity = np.diff(first.seq_indptr).astype(np.float64)  # (n_users,) history events
        self.visit_prob = np.minimum(1.0, visit_rate * activity / max(activity.mean(), 1e-12))
        last = float(history["timestamp"].max()) if len(history) else 0.0
        self.start = (np.floor(last / DAY) + 1) * DAY
        self.price = (self.catalogue["price"].astype(float).fillna(0.0).to_numpy()
                      if "price" in self.catalogue else np.zeros(len(self.item_ids)))
        self.day = 0
        self._policy_rng = np.random.default_rng([seed, 1])
        self._exposures: list[pd.DataFrame] = []

    # -- the log ------------------------------------------------------------------------
    @property
    def events(self) -> pd.DataFrame:
        """The whole event log: history then simulated days, canonical columns."""
        if len(self._events) > 1:
            self._events = [pd.concat(self._events, ignore_index=True)]
        return self._events[0]

    def interactions(self) -> Interactions:
        """The log as ``Interactions`` in the shop's fixed user and item index spaces."""
        if self._interactions is None:
            self._interactions = Interactions.from_events(
                self.events, items=self._shop_items, user_ids=self.user_ids, item_ids=self.item_ids)
        return self._interactions

    @property
    def exposures(self) -> pd.DataFrame:
        if not self._exposures:
            return pd.DataFrame({c: [] for c in EXPOSURE_COLUMNS})
        return pd.concat(self._exposures, ignore_index=True)

    # -- simulation -----------------------------------------------------------------------
    def step(self, policy: Policy) -> pd.DataFrame:
        """Play one day under ``policy``; returns that day's exposures."""
        rng = np.random.default_rng([self.seed, 0, self.day])
        n_users = self.shoppers.n_users
        visits = rng.random(n_users) < self.visit_prob
        at = self.start + self.day * DAY + rng.random(n_users) * (DAY - 3600.0)
        uniforms = rng.random((n_users, self.n, 4))
        users = np.flatnonzero(visits)
        slate = policy.recommend(users, self.n, self._policy_rng)
        if slate.items.shape != (len(users), self.n):
            raise ValueError(f"{policy.name} returned lists of shape {slate.items.shape}, "
                             f"not {(len(users), self.n)}")
        responses = self.shoppers.respond(users, slate.items, uniforms[users])
        policy.observe(slate, responses)
        self._append_events(users, slate.items, responses, at[users])
        day = self._exposure_frame(users, slate, responses)
        self._exposures.append(day)
        self.shoppers.end_day()
        self.day += 1
        return day

    def run(self, policy: Policy, days: int, refit_every: int = 1) -> Trajectory:
        """Fit ``policy`` on the log, play ``days`` days, refit every ``refit_every`` days."""
        if days < 0 or refit_every < 1:
            raise ValueError(f"days must be >= 0 and refit_every >= 1. Got {days}, {refit_every}.")
        policy.fit(self.interactions())
        for d in range(days):
            self.step(policy)
            if (d + 1) % refit_every == 0 and d + 1 < days:
                policy.fit(self.interactions())
        exposures = self.exposures
        return Trajectory(policy=policy.name, exposures=exposures,
                          daily=daily_metrics(exposures, len(self.item_ids), days=days))

    def _append_events(self, users: np.ndarray, items: np.ndarray, r: Responses,
                       at: np.ndarray) -> None:
        frames = []
        for kind, mask, offset in (("view", r.viewed, 0.0), ("cart", r.carted, 10.0),
                                   ("purchase", r.purchased, 600.0)):
            b, k = np.nonzero(mask)
            item = items[b, k]
            value = self.price[item] if kind == "purchase" else np.full(len(b), 1.0 if kind == "cart" else np.nan)
            frames.append(pd.DataFrame({
                "user_id": self.user_ids[users[b]], "item_id": self.item_ids[item], "event_type": kind,
                "timestamp": np.round(at[b] + 30.0 * k + offset, 3),
                "session_id": [f"D{self.day}-{u}" for u in users[b]], "value": value}))
        new = pd.concat(frames, ignore_index=True).sort_values("timestamp", kind="stable")
        new["context"] = None
        new.insert(0, "event_id", derive_event_ids(new))
        self._events.append(new.reset_index(drop=True).reindex(columns=list(EVENT_COLUMNS)))
        self._interactions = None

    def _exposure_frame(self, users: np.ndarray, slate, r: Responses) -> pd.DataFrame:
        b, k = np.nonzero(slate.items >= 0)
        item = slate.items[b, k]
        return pd.DataFrame({
            "day": np.full(len(b), self.day), "user": users[b], "position": k, "item": item,
            "category": self.shoppers.categories[item], "propensity": slate.propensities[b, k],
            "explored": slate.explored[b, k], "examined": r.examined[b, k], "viewed": r.viewed[b, k],
            "carted": r.carted[b, k], "purchased": r.purchased[b, k],
            "revenue": np.where(r.purchased[b, k], self.price[item], 0.0)})
