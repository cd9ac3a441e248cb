"""Simulated shoppers: how a shopper of the synthetic shop answers a list they are shown.

Every modelling choice, for shopper s, item i, category c and list position k (0-based):

1. **True taste, frozen.** taste_s = ``user_start[s] + user_drift[s]`` from ``ShopTruth``,
   i.e. the generator's taste at the end of the generated history (fraction 1); it does not
   drift further, so changes in behaviour during a simulation come from what the policy shows
   and from satiation, not from the generator.
2. **Utility.** u[s, i] = ``taste_scale`` * taste_s . item_factors[i] + item_bias[i], shape
   (n_users, n_items): the utility the generator's own sessions rank items by (scale 3).
3. **Satiation / boredom.** F[s, c] >= 0, shape (n_users, n_categories), categories cut at
   ``category_depth`` levels of the catalogue path (2 = "Home > Decor"). Every item of c the
   shopper *examined* adds 1, every purchase in c adds ``purchase_satiation``, and F is
   multiplied by ``boredom_decay`` at the end of each day. The effective utility is
   u - ``boredom`` * F[s, cat(i)]: the fifth wall clock in a week attracts less than the first,
   and wears off again when the shopper is shown other things. F starts at 0 and is updated
   after a list is answered, so it acts on the shopper's next list.
4. **Position bias** (the position-based click model: Craswell et al., WSDM 2008; Joachims et
   al., WSDM 2017): position k is examined with probability 1 / (k + 1) ** ``position_eta``,
   independently of the item.
5. **Attraction** of an examined item: a = sigmoid(u_eff - ``attraction_offset``), the
   generator's affinity (offset 1.5). A durable the shopper owns (bought in the history or in
   the simulation) has a = 0: nobody buys the same kettle twice, nor clicks it again.
   Consumables (the catalogue's ``attributes["consumable"]``) can be bought again.
6. **Funnel.** Given examined: view with probability a. Given a view: cart with probability
   ``cart_rate`` * a, never for an item the catalogue marks ``in_stock == False``. Given a
   cart: purchase with probability ``buy_base`` + ``buy_slope`` * a. Both are the
   generator's rates (0.14 a and 0.35 + 0.3 a).

Randomness comes in as uniforms (B, n, 4) from the caller (examine, view, cart, buy), so the
environment can give every policy the same draws (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy.special import expit

from shelfwise.data.synthetic import ShopTruth
from shelfwise.ranking.catalogue import category_codes


@dataclass(frozen=True)
class ShopperParams:
    """How simulated shoppers respond; see the module docstring for each symbol."""

    taste_scale: float = 3.0
    attraction_offset: float = 1.5
    position_eta: float = 1.0
    boredom: float = 0.5
    boredom_decay: float = 0.8
    purchase_satiation: float = 2.0
    cart_rate: float = 0.14
    buy_base: float = 0.35
    buy_slope: float = 0.3
    category_depth: int = 2

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"The {f.name!r} shopper parameter must be a finite number >= 0. "
                                 f"Got {value!r} instead.")
        for name in ("boredom_decay", "cart_rate"):
            if getattr(self, name) > 1:
                raise ValueError(f"The {name!r} shopper parameter must be in [0, 1]. "
                                 f"Got {getattr(self, name)!r} instead.")
        if self.buy_base + self.buy_slope > 1:
            raise ValueError(f"buy_base + buy_slope must be <= 1 (a probability). "
                             f"Got {self.buy_base} + {self.buy_slope} instead.")
        if self.category_depth < 1 or int(self.category_depth) != self.category_depth:
            raise ValueError(f"The 'category_depth' shopper parameter must be an int >= 1. "
                             f"Got {self.category_depth!r} instead.")


@dataclass(frozen=True)
class Responses:
    """What B shoppers did with their lists of n items; every array (B, n) bool."""

    examined: np.ndarray
    viewed: np.ndarray
    carted: np.ndarray
    purchased: np.ndarray


class Shoppers:
    """The state of every simulated shopper: true utilities, satiation and what they own.

    truth: the generator's ``ShopTruth`` (rows = user indices, columns = item indices);
    catalogue: frame in item-index order with ``category`` paths, ``in_stock`` and
    ``attributes`` (a dict with ``consumable``); missing columns mean "in stock, durable";
    owned: (n_users, n_items) bool, items already bought (e.g. in the history); only the
    durables among them count as owned.
    """

    def __init__(self, truth: ShopTruth, catalogue: pd.DataFrame, owned: np.ndarray | None = None,
                 params: ShopperParams | None = None):
        self.params = params = params or ShopperParams()
        n_items = len(truth.item_bias)
        if len(catalogue) != n_items:
            raise ValueError(f"catalogue has {len(catalogue)} rows but the truth {n_items} items")
        taste = truth.user_start + truth.user_drift  # (n_users, d): fraction 1
        self.utility = (params.taste_scale * taste @ truth.item_factors.T
                        + truth.item_bias).astype(np.float32)  # (n_users, n_items)
        self.categories, self.category_names = category_codes(catalogue, n_items,
                                                              depth=params.category_depth)
        n_cat = max(len(self.category_names), 1)
        # items without a category share one extra satiation column
        self._fatigue_col = np.where(self.categories >= 0, self.categories, n_cat)
        self.fatigue = np.zeros((len(taste), n_cat + 1), dtype=np.float64)  # (n_users, C + 1)
        self.in_stock = (catalogue["in_stock"].fillna(True).astype(bool).to_numpy()
                         if "in_stock" in catalogue else np.ones(n_items, bool))
        attrs = catalogue["attributes"] if "attributes" in catalogue else pd.Series([None] * n_items)
        self.consumable = np.array([bool(a.get("consumable", False)) if isinstance(a, dict) else False
                                    for a in attrs], dtype=bool)
        self.owned = np.zeros(self.utility.shape, bool)  # (n_users, n_items) durables owned
        if owned is not None:
            self.owned[:] = np.asarray(owned, dtype=bool) & ~self.consumable[None, :]

    @property
    def n_users(self) -> int:
        return self.utility.shape[0]

    def examination(self, n: int) -> np.ndarray:
        """(n,) probability that each list position is examined."""
        return 1.0 / np.power(np.arange(1, n + 1, dtype=np.float64), self.params.position_eta)

    def attraction(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """(B, n) probability of a view given examination; 0 for padding (-1) and owned durables.

        users (B,), items (B, n) item indices.
        """
        p = self.params
        users = np.asarray(users, dtype=np.int64)[:, None]
        safe = np.where(items >= 0, items, 0)
        u_eff = self.utility[users, safe] - p.boredom * self.fatigue[users, self._fatigue_col[safe]]
        a = expit(u_eff - p.attraction_offset)
        return np.where((items >= 0) & ~self.owned[users, safe], a, 0.0)

    def respond(self, users: np.ndarray, items: np.ndarray, uniforms: np.ndarray) -> Responses:
        """Responses of ``users`` (B,) to their lists ``items`` (B, n), then update satiation and
        ownership. uniforms: (B, n, 4) in [0, 1) for the examine / view / cart / buy draws."""
        p = self.params
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        if uniforms.shape != (*items.shape, 4):
            raise ValueError(f"uniforms must have shape {(*items.shape, 4)}. Got {uniforms.shape} instead.")
        a = self.attraction(users, items)
        safe = np.where(items >= 0, items, 0)
        examined = (items >= 0) & (uniforms[..., 0] < self.examination(items.shape[1])[None, :])
        viewed = examined & (uniforms[..., 1] < a)
        carted = viewed & (uniforms[..., 2] < p.cart_rate * a) & self.in_stock[safe]
        purchased = carted & (uniforms[..., 3] < p.buy_base + p.buy_slope * a)

        rows = np.broadcast_to(users[:, None], items.shape)
        cols = self._fatigue_col[safe]
        np.add.at(self.fatigue, (rows[examined], cols[examined]), 1.0)
        np.add.at(self.fatigue, (rows[purchased], cols[purchased]), p.purchase_satiation)
        durable = purchased & ~self.consumable[safe]
        self.owned[rows[durable], safe[durable]] = True
        return Responses(examined=examined, viewed=viewed, carted=carted, purchased=purchased)

    def end_day(self) -> None:
        """Satiation wears off overnight."""
        self.fatigue *= self.params.boredom_decay
