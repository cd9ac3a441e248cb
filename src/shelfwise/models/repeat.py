"""Repeat, then popular: the shopper's own items first, then the shop's best sellers.

On a multi-behaviour log the items a shopper carted, favourited or viewed are often exactly
what they buy next ("the cart, then popular" is a strong reference on such logs), and no
collaborative model proposes them: EASE and item-kNN have zero diagonals, so an item never
recommends itself. This model scores every item the shopper touched by the profile the
neighbourhood models use (behaviour weight x ``recency_decay`` ** later events, summed over
the shopper's events on it), above every item they did not touch, which follow by
popularity (distinct shoppers):

    score(u, i) = 1 + profile(u, i)              if u touched i
                = pop(i) / (max pop + 1)  (< 1)  otherwise

So with ``exclude_seen=True`` it is the popular list; in the hybrid, whose exclusion policy
keeps viewed, favourited and carted items eligible, it is the retriever that proposes them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.models.base import Recommender, zero_rows
from shelfwise.models.live import LiveScoring
from shelfwise.models.params import Interval
from shelfwise.models.profiles import user_profiles


class RepeatThenPopular(LiveScoring, Recommender):
    name = "repeat"
    capabilities = frozenset({"live"})
    forgets_exactly = True
    _parameter_constraints = {"recency_decay": Interval(float, 0, 1, closed="right")}

    def __init__(self, *, recency_decay: float = 0.9):
        self.recency_decay = recency_decay

    def _fit(self, interactions: Interactions) -> None:
        pop = interactions.item_popularity().astype(np.float32)  # (n_items,)
        self.share_ = pop / (pop.max(initial=0.0) + 1.0)  # (n_items,) in [0, 1)
        self.profiles_ = user_profiles(interactions, self.recency_decay)  # csr (n_users, n_items)

    def _forget(self, users: np.ndarray, view: Interactions) -> None:
        pop = view.without_users(users).item_popularity().astype(np.float32)
        self.share_ = pop / (pop.max(initial=0.0) + 1.0)
        self.profiles_ = zero_rows(self.profiles_, users)

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        return self._score_profiles(self.profiles_[user_indices])

    def _score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        out = np.tile(self.share_, (profiles.shape[0], 1))  # (B, n_items)
        coo = profiles.tocoo()
        touched = coo.data > 0
        out[coo.row[touched], coo.col[touched]] = 1.0 + coo.data[touched]
        return out

    def _state(self) -> dict:
        return {"share_": self.share_, "profiles_": self.profiles_}
