"""The hold-out check a training run passes before its models serve.

The hold-out is each shopper's last new item (``leave_one_out(by="item")``) when it falls in
the ``check.window_days`` before the newest event, for at most ``check.max_users`` shoppers
(the most recent). Each model of the new version is fitted with its parameters on the rest of
the events and scored on the hold-out by full ranking (NDCG@10); the active model of the same
name is scored the same way with *its* parameters on the *same* events, so the two differ
only in what the run changed (parameters, model code), not in the data they saw. Identical
parameters are scored once: a deterministic model fitted twice on the same events gives the
same lists.

A model passes when ``new >= active * (1 - margin)``, or when nothing of its name is active.
Passing models are activated from the new version; the others keep serving from theirs. The
verdict is written into the version's run.json under ``"check"``::

    check = check_and_activate(engine, version)
    check["models"]["itemknn"] == {"ndcg@10": 0.071, "active_ndcg@10": 0.069,
                                   "active_version": "...", "passed": True, "reason": "..."}
"""

from __future__ import annotations

import json
import os

import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.harness import evaluate_model, truth_from
from shelfwise.models import create

METRIC = "ndcg@10"


def holdout_split(events: pd.DataFrame, window_days: float, max_users: int
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train events, hold-out events): one row per hold-out shopper, the most recent
    ``max_users`` of those whose last new item is within ``window_days`` of the newest event."""
    split = leave_one_out(events.dropna(subset=["item_id"]), by="item")
    test = split.test
    if len(test) == 0:
        return events, test
    cut = float(events["timestamp"].max()) - window_days * 86400.0
    last = test.groupby("user_id")["timestamp"].max()
    recent = last[last >= cut].reset_index().sort_values(["timestamp", "user_id"], ascending=[False, True])
    kept = set(recent["user_id"].head(max_users))
    held = test["user_id"].isin(kept)
    return pd.concat([split.train, test[~held]]), test[held]


def check_and_activate(engine, version: str) -> dict:
    """Score ``version``'s models against the active ones on the hold-out, activate those that
    pass (all of them when the check is off or the hold-out too small), record the verdict in
    the version's run.json and return it."""
    settings = engine.settings.check
    run = engine.versions.run(version)
    names = list(run["models"])
    if not settings.enabled:
        return _finish(engine, version, run, names, {"enabled": False, "models": {}})
    events = engine.store.snapshot()
    train_events, test = holdout_split(events, settings.window_days, settings.max_users)
    check = {"enabled": True, "metric": METRIC, "margin": settings.margin,
             "holdout_users": len(test), "window_days": settings.window_days, "models": {}}
    if len(test) < settings.min_users:
        check["note"] = (f"{len(test)} hold-out shoppers, fewer than check.min_users "
                         f"({settings.min_users}): activated unchecked")
        return _finish(engine, version, run, names, check)
    items = engine.store.items()
    item_ids = pd.unique(pd.concat([events["item_id"].dropna().astype(str), items["item_id"].astype(str)]))
    train = Interactions.from_events(train_events, items=items if len(items) else None,
                                     weights=engine.settings.behaviour_weights, item_ids=item_ids)
    users, truth = truth_from(test, train)
    active = engine.versions.active()

    def score(name: str, params: dict) -> float:
        result = evaluate_model(create(name, **params), train, users, truth, ks=(10,), latency_sample=0)
        return round(result.metrics[METRIC], 6)

    passed = []
    for name in names:
        params = run["models"][name].get("params", {})
        new = score(name, params)
        verdict = {METRIC: new, "active_version": active.get(name)}
        if active.get(name) in (None, version):
            verdict.update(passed=True, reason="nothing of this name serves yet")
        else:
            old_params = engine.versions.run(active[name])["models"].get(name, {}).get("params", {})
            old = new if old_params == params else score(name, old_params)
            floor = old * (1 - settings.margin)
            ok = new >= floor
            verdict.update({f"active_{METRIC}": old, "passed": ok, "reason": (
                f"{METRIC} {new:.4f} vs the active {old:.4f}: "
                + ("not worse than the margin allows" if ok else
                   f"below {floor:.4f} (margin {settings.margin:g}), so the active version keeps serving"))})
        check["models"][name] = verdict
        if verdict["passed"]:
            passed.append(name)
    return _finish(engine, version, run, passed, check)


def _finish(engine, version: str, run: dict, activate: list[str], check: dict) -> dict:
    check["activated"] = sorted(activate)
    run["check"] = check
    path = engine.versions.root / version / "run.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(run, indent=2))
    os.replace(tmp, path)  # readers see the old run.json or the new one
    if activate:
        engine.versions.activate(version, activate)
        engine.forgetting.settle(version)  # a run of every serving model completes deletions
    return check
