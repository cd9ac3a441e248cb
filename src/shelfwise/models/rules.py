"""Association rules over baskets: "frequently bought together".

A basket is one session's items (or one user's, when events carry no session), counting only
the events of the behaviours in ``basket_types``: by default (``"auto"``) purchases when the
log has any, so a rule read as "often bought with" comes from baskets of purchases and not
from items merely viewed in one session; a log without purchases (views only, reviews only),
or whose purchase baskets give no rule (one purchase per basket), uses every behaviour, as
before, and is worded so. ``basket_types_`` records the behaviours the fit used
(those of the setting that occur in the log) and ``basket_phrase`` words them. For each pair
of items the model counts co-occurring baskets and derives, per rule ``i -> j``,

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

from shelfwise.data.interactions import TYPE_CODES, Interactions
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.models.gram import top_k_gram
from shelfwise.models.item_similarity import ItemSimilarityRecommender
from shelfwise.models.params import Interval, Options
from shelfwise.models.profiles import keep_top_k_per_row


class BehaviourNames:
    """Constraint of ``basket_types``: "auto" or a non-empty tuple (or list, as JSON gives it
    back) of behaviour names; the same interface as ``params.Interval`` / ``Options``."""

    def accepts(self, v) -> bool:
        if v == "auto":
            return True
        return isinstance(v, tuple | list) and len(v) > 0 and all(t in TYPE_CODES for t in v)

    def __str__(self) -> str:
        return "'auto' or a non-empty tuple of behaviours from " + ", ".join(EVENT_TYPES)


def basket_phrase(types) -> str:
    """How rules mined from baskets of the behaviours ``types`` may be worded, before the
    antecedent's name: "often bought with" only for purchase baskets."""
    kinds = set(types)
    if kinds == {"purchase"}:
        return "often bought with"
    if kinds and kinds <= {"view", "click"}:
        return "often viewed with"
    if kinds == {"cart"}:
        return "often carted with"
    return "often chosen together with"


def basket_matrix(interactions: Interactions, use_sessions: bool = True,
                  types: tuple[str, ...] | None = None) -> sp.csr_matrix:
    """0/1 csr (n_baskets, n_items): one row per (user, session) or per user, from the events
    of the behaviours ``types`` only (None = every event)."""
    users = np.repeat(np.arange(interactions.n_users), np.diff(interactions.seq_indptr))
    keys = users.astype(np.int64)
    if use_sessions and interactions.seq_sessions is not None:
        sess = interactions.seq_sessions.astype(np.int64)
        keys = np.where(sess >= 0, users.astype(np.int64) * (sess.max() + 2) + sess + 1, keys
                        * (sess.max() + 2))
    items = interactions.seq_items
    if types is not None:
        keep = np.isin(interactions.seq_types, [TYPE_CODES[t] for t in types])
        keys, items = keys[keep], items[keep]
    codes, _ = pd.factorize(keys)
    m = sp.csr_matrix((np.ones(len(codes), np.float32), (codes, items)),
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
        "basket_types": BehaviourNames(),
    }

    def __init__(self, *, min_count: int = 2, min_confidence: float = 0.0, max_rules: int = 100,
                 metric: str = "confidence", use_sessions: bool = True,
                 recency_decay: float = 0.7, basket_types: str | tuple[str, ...] = "auto"):
        self.min_count = min_count
        self.min_confidence = min_confidence
        self.max_rules = max_rules
        self.metric = metric
        self.use_sessions = use_sessions
        self.recency_decay = recency_decay
        # "auto" or behaviour names; deliberately not in the tuner's space: it is the shop's
        # choice of what a basket means, and it changes the wording of the rules
        self.basket_types = basket_types

    def _basket_types(self, interactions: Interactions, everything: bool = False) -> tuple[str, ...]:
        """The behaviours the baskets are made of: those of the setting that occur in the log,
        in ``EVENT_TYPES`` order."""
        present = {EVENT_TYPES[c] for c in np.unique(interactions.seq_types)}
        wanted = EVENT_TYPES if everything else self.basket_types
        if wanted == "auto":
            wanted = ("purchase",) if "purchase" in present else EVENT_TYPES
        return tuple(t for t in EVENT_TYPES if t in wanted and t in present)

    @property
    def phrase_(self) -> str:
        """The wording of this fit's rules: "often bought with" for purchase baskets only."""
        return basket_phrase(self.basket_types_)

    def _build_similarity(self, interactions: Interactions) -> sp.spmatrix:
        self.basket_types_ = self._basket_types(interactions)
        rules = self._rules(interactions)
        if rules.nnz == 0 and self.basket_types == "auto" and self.basket_types_ == ("purchase",):
            # no pair is bought together often enough (one purchase per basket, say): mine
            # baskets of every behaviour instead, worded as such ("often chosen together with")
            self.basket_types_ = self._basket_types(interactions, everything=True)
            rules = self._rules(interactions)
        return rules

    def _rules(self, interactions: Interactions) -> sp.csr_matrix:
        baskets = basket_matrix(interactions, self.use_sessions, self.basket_types_)
        n_baskets = max(baskets.shape[0], 1)
        item_count = np.asarray(baskets.sum(axis=0)).ravel()  # baskets(i)
        stats = []  # co-occurrence counts of every pair that passes, block by block

        def reduce(start: int, pair: sp.csr_matrix) -> sp.csr_matrix:
            # rows start:start+len of baskets(i, j), cut to each antecedent's best rules at once
            pair = pair.tocoo()
            rows = pair.row + start
            keep = (rows != pair.col) & (pair.data >= self.min_count)
            i, j, c = rows[keep], pair.col[keep], pair.data[keep].astype(np.float64)
            confidence = c / item_count[i]
            lift = confidence / (item_count[j] / n_baskets)
            ok = confidence >= self.min_confidence
            value = confidence if self.metric == "confidence" else lift
            rules = keep_top_k_per_row(sp.csr_matrix((value[ok], (i[ok] - start, j[ok])), shape=pair.shape,
                                                     dtype=np.float32), self.max_rules)
            stats.append(sp.csr_matrix((c[ok], (i[ok] - start, j[ok])), shape=pair.shape, dtype=np.float32))
            return rules

        rules = top_k_gram(baskets, reduce)
        n = baskets.shape[1]
        # co-occurrence counts of every pair past min_count and min_confidence
        self.rule_stats_ = sp.vstack(stats, format="csr") if stats else sp.csr_matrix((n, n), dtype=np.float32)
        self.basket_count_ = item_count.astype(np.float32)
        self.n_baskets_ = int(n_baskets)
        return rules

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
                "basket_count_": self.basket_count_, "n_baskets_": self.n_baskets_,
                "basket_types_": list(self.basket_types_)}

    def _set_state(self, state: dict) -> None:
        # a model saved before ``basket_types`` mined baskets of every behaviour
        super()._set_state({"basket_types_": EVENT_TYPES, **state})
        self.basket_types_ = tuple(self.basket_types_)
        if isinstance(self.basket_types, list):  # JSON has no tuples: compare equal after a load
            self.basket_types = tuple(self.basket_types)
