"""Offline evaluation of a shop's own log: what ``Engine.evaluate`` and ``shelfwise evaluate``
run (split, fit each model as the shop trains it, full-ranking top-K lists, the report)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.data.splits import leave_one_out, temporal_split
from shelfwise.errors import NoData
from shelfwise.evaluation.fairness import fairness, training_activity
from shelfwise.evaluation.harness import evaluate_models, evaluation_truth, evaluation_user_ids, results_frame
from shelfwise.evaluation.report import write_report


def evaluate_shop(events: pd.DataFrame, items: pd.DataFrame, weights, names: list[str],
                  make_model: Callable[[str, dict | None], object], *, protocol: str = "loo-item",
                  params: dict[str, dict] | None = None, report_dir: str | Path | None = None,
                  progress: Callable[[str], None] | None = None,
                  by_segment: Callable | None = None) -> pd.DataFrame:
    """Metrics per model (a ``results_frame``) of ``names`` built by ``make_model(name,
    params)`` on the train part of ``events`` split by ``protocol``. Test shoppers unknown to
    the train part get the ``popular`` fallback built the same way (``cold_users`` counts
    them). ``frame.attrs["fairness"]``: per model, exposure Gini, brand gap and NDCG@10 per
    tertile of shopper activity (``evaluation.fairness``). ``by_segment(recs by model, user
    ids, truth)``, when given, fills ``frame.attrs["by_segment"]``."""
    if len(events) == 0:
        raise NoData("The store holds no events: import some before evaluating.")
    if protocol == "temporal":
        split = temporal_split(events)
    elif protocol in ("loo", "loo-item"):
        split = leave_one_out(events, by="item" if protocol == "loo-item" else "event")
    else:
        raise ValueError(f"Unknown protocol {protocol!r}: loo-item, loo or temporal.")
    item_ids = pd.unique(pd.concat([events["item_id"].dropna().astype(str), items["item_id"].astype(str)]))
    train = Interactions.from_events(split.train, items=items if len(items) else None, weights=weights,
                                     item_ids=item_ids)
    if protocol == "loo-item":
        # the targets are items new to each shopper: the hybrid, like every model here, then
        # excludes everything seen (it keeps carted items eligible when serving)
        params = {**(params or {}), "hybrid": {"exclude_types": None, **(params or {}).get("hybrid", {})}}
    zoo = {n: make_model(n, params) for n in names}
    results = evaluate_models(zoo, train, split.test, progress=progress, fallback=make_model("popular", params))
    truth = evaluation_truth(split.test, train)
    users = evaluation_user_ids(split.test, train)
    activity = training_activity(train, users)
    fair = pd.DataFrame.from_dict({r.model: fairness(r.recs, truth, train, activity) for r in results},
                                  orient="index")
    if report_dir is not None:
        write_report(report_dir, results, truth, fairness=fair)
    frame = results_frame(results)
    frame.attrs["fairness"] = fair
    if by_segment is not None:  # NDCG@10 per shopper segment, beside the whole
        frame.attrs["by_segment"] = by_segment({r.model: r.recs for r in results},
                                               users, truth)
    return frame
