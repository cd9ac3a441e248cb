"""The evaluation harness. It talks to models only through ``fit`` and ``recommend``.

``evaluate_models`` fits each model on the training view, asks it for full-ranking top-K
lists for the test users (seen items excluded), and scores them; ``score_lists`` scores any
lists, including lists written by another tool, with the same code.

Test users unknown to training (cold start) are not dropped: by default they get the list
the Engine would serve them, the popularity fallback fitted on the same training view, and
count in every metric. Each result says how many there were.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.evaluation.beyond import beyond_accuracy
from shelfwise.evaluation.cost import measure
from shelfwise.evaluation.metrics import accuracy
from shelfwise.models import create
from shelfwise.models.base import Recommender

DEFAULT_KS = (5, 10, 20)
#: single-user ``recommend`` calls timed per model for the latency percentiles
LATENCY_SAMPLE = 200


@dataclass
class Result:
    model: str
    metrics: dict[str, float]
    recs: np.ndarray = field(repr=False)  # (n_users, k_max): known test users, then cold ones
    fit_seconds: float = 0.0
    fit_peak_mb: float = 0.0
    ms_per_user_batch: float = 0.0  # one batch recommend call / its users: throughput
    latency_p50_ms: float = float("nan")  # median of single-user recommend calls
    latency_p99_ms: float = float("nan")
    latency_calls: int = 0  # single-user calls behind the percentiles
    n_users: int = 0  # test users scored, cold ones included
    n_cold: int = 0  # of which unknown to training, served the fallback


def _relevant(items: list, train: Interactions) -> np.ndarray:
    """Distinct relevant item indices of one user; each distinct item unknown to training
    is relevant but unreachable and gets its own negative stand-in (-2, -3, ...)."""
    ids = np.asarray([str(i) for i in items], dtype=object)
    idx = train.items_to_indices(ids)
    n_unknown = len(np.unique(ids[idx < 0]))
    return np.concatenate([np.unique(idx[idx >= 0]), -2 - np.arange(n_unknown)])


def _grouped(test: pd.DataFrame, train: Interactions, known: bool) -> pd.Series:
    is_known = test["user_id"].astype(str).isin(train.user_index)
    rows = test[is_known if known else ~is_known]
    return rows.groupby(rows["user_id"].astype(str), sort=False)["item_id"].agg(list)


def truth_from(test: pd.DataFrame, train: Interactions) -> tuple[np.ndarray, list[np.ndarray]]:
    """(user indices (n,), relevant item indices per user) for test users known in training.
    Test items unknown to training still count, once per distinct item: no model can rank
    them, so they lower recall and NDCG as they should."""
    grouped = _grouped(test, train, known=True)
    return train.users_to_indices(grouped.index), [_relevant(g, train) for g in grouped]


def cold_truth(test: pd.DataFrame, train: Interactions) -> list[np.ndarray]:
    """Relevant item indices of each test user unknown to training, as in ``truth_from``."""
    return [_relevant(g, train) for g in _grouped(test, train, known=False)]


def evaluation_truth(test: pd.DataFrame, train: Interactions,
                     cold_start: bool = True) -> list[np.ndarray]:
    """Relevant items per row of ``Result.recs``: known test users, then (with
    ``cold_start``) the cold ones."""
    return truth_from(test, train)[1] + (cold_truth(test, train) if cold_start else [])


def evaluation_user_ids(test: pd.DataFrame, train: Interactions, cold_start: bool = True) -> list[str]:
    """The shopper of each row of ``Result.recs`` (and of ``evaluation_truth``), in order."""
    known = list(_grouped(test, train, known=True).index)
    return known + (list(_grouped(test, train, known=False).index) if cold_start else [])


def score_lists(recs: np.ndarray, truth: list[np.ndarray], train: Interactions,
                ks=DEFAULT_KS) -> dict[str, float]:
    """Accuracy at each K plus beyond-accuracy metrics at the longest K."""
    metrics = accuracy(recs, truth, ks)
    metrics.update(beyond_accuracy(recs[:, :max(ks)], train.matrix))
    return metrics


def single_call_latency(model: Recommender, users: np.ndarray, n: int,
                        sample: int = LATENCY_SAMPLE) -> np.ndarray:
    """Milliseconds of ``recommend`` for one user at a time, over up to ``sample`` users
    spread evenly through ``users``: shape (min(sample, len(users)),)."""
    m = min(sample, len(users))
    if m == 0:
        return np.zeros(0)
    picked = users[np.linspace(0, len(users) - 1, m).round().astype(int)]
    out = np.empty(m)
    for j, u in enumerate(picked):
        start = time.perf_counter()
        model.recommend(np.array([u]), n=n, exclude_seen=True)
        out[j] = 1000 * (time.perf_counter() - start)
    return out


def evaluate_model(model: Recommender, train: Interactions, users: np.ndarray,
                   truth: list[np.ndarray], ks=DEFAULT_KS, name: str | None = None,
                   k_max: int | None = None, latency_sample: int = LATENCY_SAMPLE,
                   cold_recs: np.ndarray | None = None,
                   cold_truth: list[np.ndarray] = ()) -> Result:
    """Fit ``model`` on ``train``, rank all items for ``users`` and score against ``truth``.
    ``cold_recs`` (n_cold, >= k_max) are the lists served to test users unknown to training,
    scored against ``cold_truth`` beside the model's own. ``latency_sample=0`` skips the
    single-call timing (tuning does not need it)."""
    k_max = max(max(ks), k_max or 0)
    with measure() as fit_cost:
        model.fit(train)
    with measure() as rec_cost:
        recs, _ = model.recommend(users, n=k_max, exclude_seen=True)
    latency = single_call_latency(model, users, k_max, latency_sample)
    n_cold = len(cold_truth)
    if n_cold:
        recs = np.concatenate([recs, cold_recs[:, :k_max]])
    return Result(model=name or model.name,
                  metrics=score_lists(recs, list(truth) + list(cold_truth), train, ks),
                  recs=recs, fit_seconds=fit_cost.seconds, fit_peak_mb=fit_cost.peak_mb,
                  ms_per_user_batch=1000 * rec_cost.seconds / max(len(users), 1),
                  latency_p50_ms=float(np.percentile(latency, 50)) if len(latency) else np.nan,
                  latency_p99_ms=float(np.percentile(latency, 99)) if len(latency) else np.nan,
                  latency_calls=len(latency), n_users=len(users) + n_cold, n_cold=n_cold)


def fallback_lists(fallback: Recommender, train: Interactions, n_users: int,
                   k_max: int) -> np.ndarray:
    """(n_users, k_max) lists for shoppers unknown to training, as Engine.recommend serves
    them: ``fallback`` (one list for everyone, e.g. popular) fitted on ``train``, nothing
    excluded since such shoppers have no history."""
    fallback.fit(train)
    one, _ = fallback.recommend(np.array([0]), n=k_max, exclude_seen=False)
    return np.repeat(one, n_users, axis=0)


def evaluate_models(models: dict[str, Recommender], train: Interactions, test: pd.DataFrame,
                    ks=DEFAULT_KS, k_max: int = 50, progress=None, cold_start: bool = True,
                    fallback: Recommender | None = None) -> list[Result]:
    """Evaluate each model on the same test users. With ``cold_start`` the test users
    unknown to training are scored with ``fallback``'s list (default: ``popular`` with its
    defaults) and counted; without it they are left out, and ``Result.n_cold`` is 0."""
    users, truth = truth_from(test, train)
    cold = cold_truth(test, train) if cold_start else []
    k_max = max(max(ks), k_max)
    cold_recs = (fallback_lists(fallback or create("popular"), train, len(cold), k_max)
                 if cold else None)
    results = []
    for name, model in models.items():
        if progress:
            progress(name)
        results.append(evaluate_model(model, train, users, truth, ks, name=name, k_max=k_max,
                                      cold_recs=cold_recs, cold_truth=cold))
    return results


def results_frame(results: list[Result]) -> pd.DataFrame:
    rows = [{"model": r.model, **r.metrics, "test_users": r.n_users, "cold_users": r.n_cold,
             "fit_s": r.fit_seconds, "fit_peak_mb": r.fit_peak_mb,
             "ms_per_user_batch": r.ms_per_user_batch, "latency_p50_ms": r.latency_p50_ms,
             "latency_p99_ms": r.latency_p99_ms} for r in results]
    return pd.DataFrame(rows).set_index("model")
