"""The evaluation harness. It talks to models only through ``fit`` and ``recommend``.

``evaluate_models`` fits each model on the training view, asks it for full-ranking top-K
lists for the test users (seen items excluded), and scores them; ``score_lists`` scores any
lists, including lists written by another tool, with the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.evaluation.beyond import beyond_accuracy
from shelfwise.evaluation.cost import measure
from shelfwise.evaluation.metrics import accuracy
from shelfwise.models.base import Recommender

DEFAULT_KS = (5, 10, 20)


@dataclass
class Result:
    model: str
    metrics: dict[str, float]
    recs: np.ndarray = field(repr=False)  # (n_users, k_max)
    fit_seconds: float = 0.0
    fit_peak_mb: float = 0.0
    latency_ms: float = 0.0  # recommend time per user


def truth_from(test: pd.DataFrame, train: Interactions) -> tuple[np.ndarray, list[np.ndarray]]:
    """(user indices (n,), relevant item indices per user) for test users known in training.
    Test items unknown to training map to -1: no model can rank them, and they still count."""
    known = test[test["user_id"].astype(str).isin(train.user_index)]
    grouped = known.groupby("user_id", sort=False)["item_id"].agg(list)
    users = train.users_to_indices(grouped.index)
    truth = [np.unique(train.items_to_indices(items)) for items in grouped]
    # an item unknown to training is relevant but unreachable: keep one -1 stand-in per item
    truth = [t if (t >= 0).all() else np.concatenate([t[t >= 0], -2 - np.arange((t < 0).sum())])
             for t in truth]
    return users, truth


def score_lists(recs: np.ndarray, truth: list[np.ndarray], train: Interactions,
                ks=DEFAULT_KS) -> dict[str, float]:
    """Accuracy at each K plus beyond-accuracy metrics at the longest K."""
    metrics = accuracy(recs, truth, ks)
    metrics.update(beyond_accuracy(recs[:, :max(ks)], train.matrix))
    return metrics


def evaluate_model(model: Recommender, train: Interactions, users: np.ndarray,
                   truth: list[np.ndarray], ks=DEFAULT_KS, name: str | None = None,
                   k_max: int | None = None) -> Result:
    k_max = max(max(ks), k_max or 0)
    with measure() as fit_cost:
        model.fit(train)
    with measure() as rec_cost:
        recs, _ = model.recommend(users, n=k_max, exclude_seen=True)
    return Result(model=name or model.name, metrics=score_lists(recs, truth, train, ks),
                  recs=recs, fit_seconds=fit_cost.seconds, fit_peak_mb=fit_cost.peak_mb,
                  latency_ms=1000 * rec_cost.seconds / max(len(users), 1))


def evaluate_models(models: dict[str, Recommender], train: Interactions, test: pd.DataFrame,
                    ks=DEFAULT_KS, k_max: int = 50, progress=None) -> list[Result]:
    users, truth = truth_from(test, train)
    results = []
    for name, model in models.items():
        if progress:
            progress(name)
        results.append(evaluate_model(model, train, users, truth, ks, name=name, k_max=k_max))
    return results


def results_frame(results: list[Result]) -> pd.DataFrame:
    rows = [{"model": r.model, **r.metrics, "fit_s": r.fit_seconds, "fit_peak_mb": r.fit_peak_mb,
             "latency_ms": r.latency_ms} for r in results]
    return pd.DataFrame(rows).set_index("model")
