"""Hyper-parameter search on a validation split (optuna, the ``tune`` extra).

Each user's last event of the events given is held out; a model is fitted on the rest and
scored by full-ranking NDCG@10 on the held-out items. The model's defaults, unmodified, are
the baseline: trial 0 of the study when the search space can express them, else scored
first, outside it. The search's best replaces them only if it scores higher on validation,
else the defaults are reported as best. The best configuration is saved as JSON and becomes
that model's defaults for that dataset. Sequence models search a space centred on their
defaults, first one parameter at a time (``neighbours``), then freely, with short trials
pruned epoch by epoch (see ``tune``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.harness import evaluate_model, score_lists, truth_from
from shelfwise.models import MODELS, create

Space = Callable[["object"], dict]  # optuna trial -> params
SEQUENCE_MODELS = ("sasrec", "bert4rec", "gru4rec", "bilstm_transformer")


def centred_space(defaults: dict) -> Space:
    """A sequence model's search space centred on its ``defaults`` (``get_params()``):
    ``dim`` and ``max_len`` from half to twice the default, ``layers`` one either side,
    ``dropout`` 0.2 either side, ``lr`` a factor 4 either side on a log scale, and the
    co-occurrence item groups on or off. The defaults are thus the middle of every range,
    and trial 0 of every search."""
    d = defaults
    dims = sorted({max(d["heads"], d["dim"] // 2 // d["heads"] * d["heads"]), d["dim"],
                   2 * d["dim"]})  # every choice divisible by the heads
    lens = sorted({max(2, d["max_len"] // 2), d["max_len"], 2 * d["max_len"]})
    return lambda t: {
        "dim": t.suggest_categorical("dim", dims),
        "layers": t.suggest_int("layers", max(1, d["layers"] - 1), d["layers"] + 1),
        "dropout": t.suggest_float("dropout", max(0.0, d["dropout"] - 0.2),
                                   min(0.9, d["dropout"] + 0.2)),
        "lr": t.suggest_float("lr", d["lr"] / 4, d["lr"] * 4, log=True),
        "max_len": t.suggest_categorical("max_len", lens),
        "item_groups": t.suggest_categorical("item_groups", [True, False]),
    }


#: one-step moves from a sequence model's defaults, in the order a search tries them:
#: (parameter, function of the defaults giving the moved value)
MOVES = (
    ("lr", lambda d: d["lr"] * 1.5), ("dropout", lambda d: round(d["dropout"] - 0.1, 6)),
    ("max_len", lambda d: max(2, d["max_len"] // 2)), ("dim", lambda d: 2 * d["dim"]),
    ("layers", lambda d: d["layers"] + 1), ("dropout", lambda d: round(d["dropout"] + 0.1, 6)),
    ("lr", lambda d: d["lr"] / 1.5), ("max_len", lambda d: 2 * d["max_len"]),
    ("layers", lambda d: d["layers"] - 1), ("item_groups", lambda d: not d["item_groups"]),
)


def neighbours(defaults: dict) -> list[dict]:
    """Points of ``centred_space(defaults)`` one step from the defaults, each moving one
    parameter (``MOVES``): a search's first trials after the defaults' own. A free draw from
    the space changes every parameter at once and was pruned behind good defaults in most
    10-minute searches; a single move is a small, readable change that can still win."""
    import optuna

    probe = optuna.create_study().ask()
    centred_space(defaults)(probe)
    out = []
    for name, move in MOVES:
        point = {k: defaults[k] for k in probe.distributions} | {name: move(defaults)}
        if point[name] != defaults[name] and all(
                _contains(probe.distributions[k], v) for k, v in point.items()):
            out.append(point)
    return out


def _sequence_space(model: str) -> Space:
    # read the defaults when a search starts, so the space follows them if they change
    return lambda t: centred_space(MODELS[model]().get_params())(t)


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
    "repeat": lambda t: {"recency_decay": t.suggest_float("recency_decay", 0.2, 1.0)},
    # each trial fits the whole pipeline (its retrievers twice): only the ranker is searched
    "hybrid": lambda t: {"fusion": t.suggest_categorical("fusion", ["lightgbm", "weighted", "mlp"])},
    **{m: _sequence_space(m) for m in SEQUENCE_MODELS},
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
         seed: int = 0, max_trials: int | None = None, pruner=None,
         fixed: dict | None = None) -> TuneResult:
    """Search ``model``'s hyper-parameters for ``minutes`` on a last-event validation split
    of ``events`` (a canonical event frame): each user's last event is held out, so a
    caller that passes only its training events never shows the search its test target.
    ``max_trials`` bounds the search trials, which come after the defaults' trial 0.
    ``fixed`` parameters are set in every trial, trial 0 included (not searched).

    The defaults are trial 0 whenever the space can express them (always for the sequence
    models, whose space is centred on them), else they are scored first, outside the study.
    ``trials`` holds every study trial; ``user_attrs_defaults`` marks trial 0.

    Sequence models: trials 1, 2, ... are first the defaults' ``neighbours`` (one parameter
    moved a step), then TPE's draws. ``minutes`` is the search's budget; each trial (trial 0
    too) may train for a quarter of it at most (or what is left of the budget, if less). Every
    epoch's validation NDCG@10 (the model's own, on the last event before the held-out one)
    goes to a successive-halving pruner (rungs at epochs 2, 4, 8, ...), which stops a trial
    not in the better half of the trials that reached the same epoch, the defaults' trial
    among them (with fewer than four there, it must be the best); the time a pruned trial
    leaves goes to further trials. Trials skip the refit epochs (every configuration would
    get the same few), and a trial's score is NDCG@10 on the held-out events. The best
    parameters found leave the time budget and refit epochs at the model's defaults: the
    final fit of the winner costs what an untuned fit costs, so tuning adds ``minutes`` to a
    run and never shortens the final model's training. ``pruner`` replaces that pruner
    (tests)."""
    import optuna

    if model not in SPACES:
        raise ValueError(f"No search space for {model!r}. Known: {', '.join(sorted(SPACES))}.")
    split = leave_one_out(events)
    train = Interactions.from_events(split.train, items=items)
    users, truth = truth_from(split.test, train)
    deadline = time.monotonic() + minutes * 60
    sequential = "sequence" in MODELS[model].capabilities
    fixed = fixed or {}

    def score(params: dict, trial=None) -> float:
        if not sequential:
            est = create(model, **params, **fixed)
            return evaluate_model(est, train, users, truth, ks=(10,),
                                  latency_sample=0).metrics["ndcg@10"]
        left = (deadline - time.monotonic()) / 60
        est = create(model, **{"refit_epochs": 0, "max_minutes": max(min(left, minutes / 4), 0.25),
                                **params, **fixed})
        start = time.perf_counter()

        def on_epoch(epoch: int, ndcg: float) -> None:
            if trial is None:
                return
            trial.set_user_attr("epochs", epoch)
            trial.set_user_attr("seconds", time.perf_counter() - start)
            trial.report(ndcg, epoch)
            # the defaults' trial is the baseline: it always runs to its end
            if trial.should_prune() and not trial.user_attrs.get("defaults"):
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        est.fit(train, on_epoch=on_epoch)
        if trial is not None:
            trial.set_user_attr("best_epoch", int(np.argmax(
                [h["val_ndcg@10"] for h in est.history_])) + 1)
        recs, _ = est.recommend(users, n=10, exclude_seen=True)
        return score_lists(recs, truth, train, ks=(10,))["ndcg@10"]

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    defaults = create(model).get_params()
    probe = optuna.create_study().ask()
    names = list(SPACES[model](probe))  # the space's parameter names
    in_space = all(_contains(probe.distributions[k], defaults[k]) for k in names)
    pruner = pruner or epoch_pruner()
    study = optuna.create_study(direction="maximize", pruner=pruner,
                                sampler=optuna.samplers.TPESampler(seed=seed))
    if in_space:
        study.enqueue_trial({k: defaults[k] for k in names}, user_attrs={"defaults": True})
    else:
        default_ndcg = score({})
    if sequential:
        for point in neighbours(defaults):
            study.enqueue_trial(point, user_attrs={"neighbour": True})

    def objective(trial) -> float:
        params = SPACES[model](trial)
        # trial 0 is scored exactly as the defaults are, not as a point of the space
        return score({} if trial.user_attrs.get("defaults") else params, trial)

    n_trials = None if max_trials is None else max_trials + in_space
    study.optimize(objective, timeout=max(deadline - time.monotonic(), 1), n_trials=n_trials)
    if in_space:
        default_ndcg = study.trials[0].value
    # a pruned trial's value is its last epoch report, not a held-out score: completed only
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE
            and not t.user_attrs.get("defaults")]
    best_trial = max(done, key=lambda t: t.value, default=None)
    if best_trial is not None and best_trial.value > default_ndcg:
        best, best_ndcg = dict(best_trial.params), float(best_trial.value)
    else:
        best, best_ndcg = {k: defaults[k] for k in names}, default_ndcg
    trials = study.trials_dataframe()
    trials = trials[trials["state"] != "WAITING"]  # enqueued neighbours the budget never reached
    return TuneResult(model=model, best_params=best, best_ndcg=best_ndcg,
                      default_ndcg=float(default_ndcg), trials=trials)


def epoch_pruner():
    """The sequence-model trials' pruner: successive halving with rungs at epochs 2, 4, 8...;
    a trial goes on past a rung only in the better half of the trials that reached it.
    One bracket, not Hyperband: with the few trials a 10-minute search runs, Hyperband's
    brackets each held one or two trials and never pruned (Grocery: 4 trials, none pruned)."""
    import optuna

    return optuna.pruners.SuccessiveHalvingPruner(min_resource=2, reduction_factor=2)


def _contains(distribution, value) -> bool:
    """Whether an optuna ``distribution`` can give ``value`` (None never)."""
    if value is None or (isinstance(value, bool) and not hasattr(distribution, "choices")):
        return False
    if hasattr(distribution, "choices"):
        return value in distribution.choices
    return distribution.low <= value <= distribution.high


def tuned_params(folder: str | Path, model: str) -> dict:
    """Saved best parameters of ``model`` in ``folder`` (empty when never tuned)."""
    path = Path(folder) / f"{model}.json"
    return json.loads(path.read_text())["params"] if path.exists() else {}


__all__ = ["MODELS", "SPACES", "TuneResult", "centred_space", "epoch_pruner", "neighbours", "tune",
           "tuned_params"]
