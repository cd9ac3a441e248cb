"""Hyper-parameter search on a validation split (optuna, the ``tune`` extra).

Each user's last event of the training data is held out; a model is fitted on the rest and
scored by full-ranking NDCG@10 on the held-out items. The model's defaults, unmodified, are
scored first as the baseline, outside the search; the search's best replaces them only if it
scores higher on validation, else the defaults are reported as best. The best configuration
is saved as JSON and becomes that model's defaults for that dataset.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.harness import evaluate_model, truth_from
from shelfwise.models import MODELS, create

Space = Callable[["object"], dict]  # optuna trial -> params

SEQ_SPACE: Space = lambda t: {  # noqa: E731
    "dim": t.suggest_categorical("dim", [32, 64, 128]),
    "layers": t.suggest_int("layers", 1, 3),
    "dropout": t.suggest_float("dropout", 0.1, 0.5),
    "lr": t.suggest_float("lr", 3e-4, 5e-3, log=True),
    "max_len": t.suggest_categorical("max_len", [20, 50, 100]),
}

SPACES: dict[str, Space] = {
    "popular": lambda t: {"half_life_days": t.suggest_float("half_life_days", 1, 365, log=True)},
    "itemknn": lambda t: {
        "k": t.suggest_int("k", 10, 1000, log=True), "shrink": t.suggest_float("shrink", 0, 200),
        "recency_decay": t.suggest_float("recency_decay", 0.2, 1.0),
        "weighting": t.suggest_categorical("weighting", ["cosine", "bm25"])},
    "userknn": lambda t: {
        "k": t.suggest_int("k", 10, 1000, log=True), "shrink": t.suggest_float("shrink", 0, 200),
        "weighting": t.suggest_categorical("weighting", ["cosine", "bm25"])},
    "rules": lambda t: {
        "min_count": t.suggest_int("min_count", 1, 5),
        "max_rules": t.suggest_int("max_rules", 10, 1000, log=True),
        "metric": t.suggest_categorical("metric", ["confidence", "lift"]),
        "recency_decay": t.suggest_float("recency_decay", 0.2, 1.0)},
    "ease": lambda t: {"l2": t.suggest_float("l2", 5, 5000, log=True),
                       "recency_decay": t.suggest_float("recency_decay", 0.2, 1.0)},
    "als": lambda t: {
        "factors": t.suggest_categorical("factors", [32, 64, 128, 256]),
        "regularization": t.suggest_float("regularization", 1e-3, 1.0, log=True),
        "alpha": t.suggest_float("alpha", 0.5, 100, log=True),
        "iterations": t.suggest_int("iterations", 5, 30)},
    "bpr": lambda t: {
        "factors": t.suggest_categorical("factors", [32, 64, 128, 256]),
        "learning_rate": t.suggest_float("learning_rate", 1e-3, 0.1, log=True),
        "regularization": t.suggest_float("regularization", 1e-5, 0.1, log=True),
        "iterations": t.suggest_int("iterations", 50, 500, log=True)},
    "content": lambda t: {"recency_decay": t.suggest_float("recency_decay", 0.2, 1.0),
                          "sublinear_tf": t.suggest_categorical("sublinear_tf", [True, False])},
    "content_minilm": lambda t: {"recency_decay": t.suggest_float("recency_decay", 0.2, 1.0)},
    "sasrec": SEQ_SPACE, "bert4rec": SEQ_SPACE, "gru4rec": SEQ_SPACE,
    "bilstm_transformer": SEQ_SPACE,
}


@dataclass
class TuneResult:
    model: str
    best_params: dict
    best_ndcg: float
    default_ndcg: float
    trials: pd.DataFrame = field(repr=False)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"model": self.model, "params": self.best_params,
                                    "validation_ndcg@10": self.best_ndcg,
                                    "default_validation_ndcg@10": self.default_ndcg}, indent=2))
        return path


def tune(events: pd.DataFrame, model: str, minutes: float, items: pd.DataFrame | None = None,
         seed: int = 0, max_trials: int | None = None) -> TuneResult:
    """Search ``model``'s hyper-parameters for ``minutes`` on a last-event validation split
    of ``events`` (a canonical event frame). ``max_trials`` bounds the search trials, which
    come after the defaults' baseline; ``trials`` lists the search trials only.

    Sequence models get the same training budget (``max_minutes``) in the baseline as in
    each trial, so the defaults are compared at equal cost; all else is their defaults."""
    import optuna

    if model not in SPACES:
        raise ValueError(f"No search space for {model!r}. Known: {', '.join(sorted(SPACES))}.")
    split = leave_one_out(events)
    train = Interactions.from_events(split.train, items=items)
    users, truth = truth_from(split.test, train)
    deadline = time.monotonic() + minutes * 60
    sequential = "sequence" in MODELS[model].capabilities

    def budget() -> dict:
        if not sequential:
            return {}
        # a fit may use what is left of the budget, and at most a third
        left = max(deadline - time.monotonic(), 30.0) / 60
        return {"max_minutes": max(min(left, minutes / 3), 0.5)}

    def score(params: dict) -> float:
        est = create(model, **params, **budget())
        return evaluate_model(est, train, users, truth, ks=(10,),
                              latency_sample=0).metrics["ndcg@10"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    default_ndcg = score({})
    defaults = create(model).get_params()
    names = list(SPACES[model](optuna.create_study().ask()))  # the space's parameter names
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(lambda trial: score(SPACES[model](trial)),
                   timeout=max(deadline - time.monotonic(), 1), n_trials=max_trials)
    done = [t for t in study.trials if t.value is not None]
    if done and study.best_value > default_ndcg:
        best, best_ndcg = dict(study.best_params), float(study.best_value)
    else:
        best, best_ndcg = {k: defaults[k] for k in names}, default_ndcg
    return TuneResult(model=model, best_params=best, best_ndcg=best_ndcg,
                      default_ndcg=float(default_ndcg), trials=study.trials_dataframe())


def tuned_params(folder: str | Path, model: str) -> dict:
    """Saved best parameters of ``model`` in ``folder`` (empty when never tuned)."""
    path = Path(folder) / f"{model}.json"
    return json.loads(path.read_text())["params"] if path.exists() else {}


__all__ = ["MODELS", "SPACES", "TuneResult", "tune", "tuned_params"]
