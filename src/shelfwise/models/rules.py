"""Association rules over baskets: "frequently bought together".

A basket is one session's items (or one user's, when events carry no session). For each
pair of items the model counts co-occurring baskets and derives, per rule ``i -> j``,

- support    = baskets(i, j) / baskets
- confidence = baskets(i, j) / baskets(i)
- lift       = confidence / (baskets(j) / baskets)

Rules below ``min_count`` co-occurrences or ``min_confidence`` are dropped; each antecedent
keeps its ``max_rules`` best by ``metric``. A user's scores sum the rules fired by their
recency-weighted history (the shared item-similarity path).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.models.item_similarity import ItemSimilarityRecommender
from shelfwise.models.params import Interval, Options
from shelfwise.models.profiles import keep_top_k_per_row


def basket_matrix(interactions: Interactions, use_sessions: bool = True) -> sp.csr_matrix:
    """0/1 csr (n_baskets, n_items): one row per (user, session) or per user."""
    users = np.repeat(np.arange(interactions.n_users), np.diff(interactions.seq_indptr))
    keys = users.astype(np.int64)
    if use_sessions and interactions.seq_sessions is not None:
        sess = interactions.seq_sessions.astype(np.int64)
        keys = np.where(sess >= 0, users.astype(np.int64) * (sess.max() + 2) + sess + 1, keys
                        * (sess.max() + 2))
    codes, _ = pd.factorize(keys)
    m = sp.csr_matrix((np.ones(len(codes), np.float32), (codes, interactions.seq_items)),
                      shape=(codes.max() + 1 if len(codes) else 0, interactions.n_items))
    m.sum_duplicates()
    m.data[:] = 1.0  # an item counts once per basket
    return m


class AssociationRules(ItemSimilarityRecommender):
    name = "rules"
    _parameter_constraints = {
        "min_count": Interval(int, 1), "min_confidence": Interval(float, 0, 1),
        "max_rules": Interval(int, 1), "metric": Options(frozenset({"confidence", "lift"})),
        "use_sessions": Options(frozenset({True, False})),
        "recency_decay": Interval(float, 0, 1, closed="right"),
    }

    def __init__(self, *, min_count: int = 2, min_confidence: float = 0.0, max_rules: int = 100,
                 metric: str = "confidence", use_sessions: bool = True,
                 recency_decay: float = 0.7):
        self.min_count = min_count
        self.min_confidence = min_confidence
        self.max_rules = max_rules
        self.metric = metric
        self.use_sessions = use_sessions
        self.recency_decay = recency_decay

    def _build_similarity(self, interactions: Interactions) -> sp.spmatrix:
        baskets = basket_matrix(interactions, self.use_sessions)
        n_baskets = max(baskets.shape[0], 1)
        item_count = np.asarray(baskets.sum(axis=0)).ravel()  # baskets(i)
        pair = (baskets.T @ baskets).tocoo()  # baskets(i, j)
        keep = (pair.row != pair.col) & (pair.data >= self.min_count)
        i, j, c = pair.row[keep], pair.col[keep], pair.data[keep].astype(np.float64)
        confidence = c / item_count[i]
        lift = confidence / (item_count[j] / n_baskets)
        ok = confidence >= self.min_confidence
        self.rule_stats_ = sp.csr_matrix((c[ok], (i[ok], j[ok])), shape=pair.shape,
                                         dtype=np.float32)  # co-occurrence counts
        self.basket_count_ = item_count.astype(np.float32)
        self.n_baskets_ = int(n_baskets)
        value = confidence if self.metric == "confidence" else lift
        rules = sp.csr_matrix((value[ok], (i[ok], j[ok])), shape=pair.shape, dtype=np.float32)
        return keep_top_k_per_row(rules, self.max_rules)

    def rules_for(self, item_index: int, n: int = 10) -> pd.DataFrame:
        """The ``n`` strongest rules ``item -> consequent`` with support, confidence, lift."""
        self.check_is_fitted()
        row = self.similarity_[item_index]
        counts = self.rule_stats_[item_index].toarray().ravel()[row.indices]
        conf = counts / self.basket_count_[item_index]
        frame = pd.DataFrame({
            "consequent": row.indices, "support": counts / self.n_baskets_,
            "confidence": conf,
            "lift": conf / (self.basket_count_[row.indices] / self.n_baskets_),
        })
        return frame.sort_values(self.metric, ascending=False, kind="stable").head(n).reset_index(
            drop=True)

    def _state(self) -> dict:
        return {**super()._state(), "rule_stats_": self.rule_stats_,
                "basket_count_": self.basket_count_, "n_baskets_": self.n_baskets_}
