"""Matrix factorisation through the ``implicit`` library (an optional extra:
``pip install shelfwise[factor]``).

Scores are ``user_factors @ item_factors.T``; the models differ only in fitting:

- ALS (Hu, Koren & Volinsky 2008) with the conjugate-gradient solver (Takacs et al. 2011);
  confidence ``1 + alpha * w`` where w is the behaviour-weighted interaction strength.
- BPR (Rendle et al. 2009): pairwise ranking with sampled negatives.

Catalogues of at least ``ann_threshold`` items (default 100,000) are searched through an HNSW
index over the item factors (``shelfwise.models.ann``, the ``ann`` extra); smaller ones exactly.

``fold_in`` gives factors for new or changed users without retraining: implicit's
``recalculate_user`` solves the user's least-squares problem against the fixed item factors,
as ALS fitting does; BPR, which has no closed form, uses the same solve on its item factors.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.models.ann import ANN_CONSTRAINTS, ApproximateRetrieval
from shelfwise.models.base import Recommender, top_n, zero_rows
from shelfwise.models.live import LiveScoring
from shelfwise.models.params import Interval, Options


def _implicit():
    try:
        import implicit  # noqa: F401
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Factor models need the 'implicit' package: "
                          "pip install 'shelfwise[factor]'") from exc
    return AlternatingLeastSquares, BayesianPersonalizedRanking


@functools.cache
def _blas_controller():
    """One ``ThreadpoolController`` per process: building one scans the loaded libraries
    (about 4 ms), too slow to repeat on every served request."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class FactorRecommender(LiveScoring, Recommender):
    capabilities = frozenset({"similar_items", "fold_in", "live"})
    extra = "factor"
    requires = ("implicit", "threadpoolctl")

    def _confidence(self, interactions: Interactions) -> sp.csr_matrix:
        x = (interactions.binary if self.binary else interactions.matrix).astype(np.float32)
        return x.tocsr()

    def _keep_factors(self, model) -> None:
        """Copy the learned factors out of an ``implicit`` model."""
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)  # (n_users, f)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)  # (n_items, f)

    def _forget(self, users: np.ndarray, view: Interactions) -> None:
        # their factors go at once; the item factors they helped learn stay until a refit
        self.user_factors_ = zero_rows(self.user_factors_, users)

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        # float32 factors multiplied in float64 and rounded once: a batch and a single user get
        # bit-identical scores (float32 BLAS kernels for one row and for many sum in different
        # orders), so items with equal factors (bought by the same shoppers) tie the same way
        users = self.user_factors_[user_indices].astype(np.float64)
        return (users @ self._item_factors64().T).astype(np.float32)

    def _item_factors64(self) -> np.ndarray:
        """``item_factors_`` as float64, converted once per array (not on every request)."""
        cached = getattr(self, "_items64", None)
        if cached is None or cached[0] is not self.item_factors_:
            cached = (self.item_factors_, self.item_factors_.astype(np.float64))
            self._items64 = cached
        return cached[1]

    def score_columns(self, item_indices) -> np.ndarray:
        """(n_users, k): every user's factors against the items' factors."""
        self.check_is_fitted()
        items = np.atleast_1d(np.asarray(item_indices, dtype=np.int64))
        return self.user_factors_ @ self.item_factors_[items].T

    def similar_items(self, item_indices, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity of item factors."""
        self.check_is_fitted()
        items = np.atleast_1d(np.asarray(item_indices, dtype=np.int64))
        v = self.item_factors_
        norms = np.linalg.norm(v, axis=1) + 1e-12
        scores = (v[items] @ v.T) / (norms[items, None] * norms[None, :])
        scores[np.arange(len(items)), items] = -np.inf
        return top_n(scores.astype(np.float32), n)

    def fold_in(self, user_items: sp.csr_matrix) -> np.ndarray:
        """Factors for users given their item rows (csr (n_users, n_items) of weights), with
        the item factors fixed: implicit's ``recalculate_user``, which solves each user's
        least-squares problem exactly as ALS fitting does (confidence ``alpha * w``).
        Returns float32 (n_users, factors)."""
        self.check_is_fitted()
        rows = user_items.tocsr().astype(np.float32)
        with _blas_controller().limit(limits=1, user_api="blas"):  # one small solve: no BLAS threads
            solved = self._fold_in_solver().recalculate_user(np.arange(rows.shape[0]), rows)
        return np.asarray(solved, dtype=np.float32).reshape(rows.shape[0], -1)

    def _fold_in_solver(self):
        """An implicit ALS model holding our item factors: its ``recalculate_user`` is the
        fold-in. BPR's item factors (with their bias column) are solved against the same way."""
        solver = getattr(self, "_solver", None)
        if solver is None or solver.item_factors is not self.item_factors_:
            als_cls, _ = _implicit()
            with _blas_controller().limit(limits=1, user_api="blas"):
                solver = als_cls(factors=self.item_factors_.shape[1], use_cg=False, num_threads=1,
                                 regularization=float(getattr(self, "regularization", 0.01)),
                                 alpha=float(getattr(self, "alpha", 1.0)))
            solver.item_factors = self.item_factors_
            self._solver = solver
        return solver

    def _profile_options(self) -> tuple[float, bool]:
        return 1.0, bool(self.binary)  # the confidence rows fit saw: no recency weighting

    def _score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        if self.binary:  # fit saw 0/1 rows, not event counts
            profiles = profiles.copy()
            profiles.data[:] = 1.0
        return self.fold_in(profiles) @ self.item_factors_.T

    def _state(self) -> dict:
        return {"user_factors_": self.user_factors_, "item_factors_": self.item_factors_}

    # -- the ANN hooks (shelfwise.models.ann) ------------------------------------------
    def _ann_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        v = self.item_factors_
        return v, v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-12)  # cosine: unit rows

    def _ann_queries(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users]

    def _ann_item_queries(self, items: np.ndarray) -> np.ndarray:
        v = self.item_factors_[items]
        return v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-12)

    def _ann_exact(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        # float64 products rounded once, as _score: the same number for the same pair
        u = self.user_factors_[users].astype(np.float64)[:, None, :]  # (B, 1, f)
        v = self.item_factors_[items].astype(np.float64)  # (B, k, f)
        return (u @ v.transpose(0, 2, 1))[:, 0, :].astype(np.float32)

    def _ann_similar_exact(self, items: np.ndarray, others: np.ndarray) -> np.ndarray:
        v = self.item_factors_
        norms = np.linalg.norm(v[others], axis=2) + 1e-12  # (B, k)
        dots = (v[items][:, None, :] @ v[others].transpose(0, 2, 1))[:, 0, :]
        return (dots / ((np.linalg.norm(v[items], axis=1) + 1e-12)[:, None] * norms)).astype(np.float32)


class ALS(ApproximateRetrieval, FactorRecommender):
    name = "als"
    _parameter_constraints = {**ANN_CONSTRAINTS,
        "factors": Interval(int, 1), "regularization": Interval(float, 0),
        "alpha": Interval(float, 0, closed="neither"), "iterations": Interval(int, 1),
        "binary": Options(frozenset({True, False})), "random_state": Interval(int, 0),
    }

    def __init__(self, *, factors: int = 128, regularization: float = 0.05, alpha: float = 10.0,
                 iterations: int = 15, binary: bool = False, random_state: int = 0,
                 ann_threshold: int | None = 100_000, ann_ef_search: int = 128):
        self.ann_threshold = ann_threshold
        self.ann_ef_search = ann_ef_search
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.binary = binary
        self.random_state = random_state

    def _fit(self, interactions: Interactions) -> None:
        als_cls, _ = _implicit()
        # implicit parallelises over users itself; threaded BLAS inside that would
        # oversubscribe the cores (implicit checks and warns about exactly this).
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            model = als_cls(factors=self.factors, regularization=self.regularization,
                            alpha=self.alpha, iterations=self.iterations, use_cg=True,
                            calculate_training_loss=False, random_state=self.random_state)
            model.fit(self._confidence(interactions), show_progress=False)
        self._keep_factors(model)


class BPR(ApproximateRetrieval, FactorRecommender):
    name = "bpr"
    _parameter_constraints = {**ANN_CONSTRAINTS,
        "factors": Interval(int, 1), "learning_rate": Interval(float, 0, closed="neither"),
        "regularization": Interval(float, 0), "iterations": Interval(int, 1),
        "binary": Options(frozenset({True, False})), "random_state": Interval(int, 0),
    }

    def __init__(self, *, factors: int = 128, learning_rate: float = 0.05,
                 regularization: float = 0.001, iterations: int = 200, binary: bool = True,
                 random_state: int = 0, ann_threshold: int | None = 100_000, ann_ef_search: int = 128):
        self.ann_threshold = ann_threshold
        self.ann_ef_search = ann_ef_search
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.binary = binary
        self.random_state = random_state

    def _fit(self, interactions: Interactions) -> None:
        _, bpr_cls = _implicit()
        model = bpr_cls(factors=self.factors, learning_rate=self.learning_rate,
                        regularization=self.regularization, iterations=self.iterations,
                        random_state=self.random_state)
        model.fit(self._confidence(interactions), show_progress=False)
        self._keep_factors(model)
