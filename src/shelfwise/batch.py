"""Batch jobs over files, for outside evaluators and offline pipelines.

``recommend_batch`` trains one model on any events CSV and writes top-K lists;
``score_recommendation_file`` scores such lists against held-out events with the same
metric code the harness uses, so both report identical figures.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from shelfwise.config import Settings
from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_events
from shelfwise.data.rules import RuleSet
from shelfwise.data.validation import OnError
from shelfwise.evaluation.harness import DEFAULT_KS, score_lists, truth_from
from shelfwise.models import create
from shelfwise.serving import FittedSource, ListRequest, Pipeline


def read_user_list(path: str | Path) -> list[str]:
    """One user id per line; blank lines ignored, a ``user_id`` header line allowed."""
    users = [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    users = [u for u in users if u]
    return users[1:] if users and users[0] == "user_id" else users


def read_catalogue(path: str | Path) -> pd.DataFrame:
    """A catalogue CSV as the store's item layout: category paths split on ">", and an
    ``attributes`` column of attribute ids separated by "|" (what an S3-Rec
    ``item2attributes.json`` becomes) stored as ``{"attribute_ids": [...]}``, the form
    ``load_sequences`` gives the benchmarks. A bad row is a one-line ``ValueError`` naming
    its line and field."""
    from pydantic import ValidationError

    from shelfwise.data.schemas import Item

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "item_id" not in frame:
        raise ValueError(f"{path}: a catalogue needs an item_id column")
    known = [c for c in ("item_id", "title", "description", "category", "brand", "price")
             if c in frame]
    rows = []
    for line, record in enumerate(frame[known + ["attributes"] * ("attributes" in frame)]
                                  .to_dict("records"), start=2):  # line 1 is the header
        fields = {k: v for k, v in record.items() if v != "" and k != "attributes"}
        if record.get("attributes", "") != "":
            fields["attributes"] = {"attribute_ids": _attribute_ids(record["attributes"],
                                                                    path, line)}
        try:
            rows.append(Item(**fields).model_dump())
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "row"
            raise ValueError(f"{path}: line {line}: {field}: {err['msg']}") from None
    return pd.DataFrame(rows)


def _attribute_ids(cell: str, path, line: int) -> list[str]:
    ids = [a.strip() for a in cell.split("|")]
    if "" in ids:
        raise ValueError(f"{path}: line {line}: attributes: empty attribute id in {cell!r} "
                         "(ids are separated by '|', e.g. 12|40|7)")
    return ids


def read_batch_inputs(events_path: str | Path, items_path: str | Path | None = None,
                      on_error: OnError = "fail", report=print):
    """The events file and optional catalogue as ``recommend_batch`` reads them:
    (loaded dataset, catalogue frame or None, the Interactions models are fitted on)."""
    ds = load_events(events_path, on_error=on_error, fill_missing=True)
    for note in ds.notes:
        report(f"{events_path}: {note}")
    items = read_catalogue(items_path) if items_path else None
    return ds, items, Interactions.from_events(ds.events, items=items)


def recommend_batch(events_path: str | Path, users_path: str | Path, model: str,
                    k: int, out_path: str | Path, params: dict | None = None,
                    on_error: OnError = "fail", tune_minutes: float | None = None,
                    report=print, items_path: str | Path | None = None,
                    exclude_seen: bool = True, exclude_types: list[str] | None = None,
                    reasons: bool = False) -> pd.DataFrame:
    """Train ``model`` on the events CSV (``user_id,item_id[,event_type][,timestamp][,value]``;
    common column spellings are recognised, see ``load_events``) and write
    ``user_id,item_id,rank`` (rank 1 = best) for each listed user, seen items excluded.
    Users absent from the file get the most popular items. ``exclude_seen=False`` lets a
    user's own items back in (repeat purchases: groceries, consumables).

    With ``tune_minutes``, each user's last event of the file is held out as validation,
    hyper-parameters are searched within that budget, and the best are refitted on all of
    the file (explicit ``params`` still win). ``items_path`` is an optional catalogue CSV
    (``item_id`` plus any of title, description, category as "A > B", brand, price, and
    attributes as "id|id|..."), which the content models need and the sequence models
    embed as the benchmarks do.

    ``exclude_types`` (e.g. ``["purchase"]``) excludes only items the user has an event of
    those behaviours on, so viewed, favourited or carted items stay eligible; on a file
    where every event is a purchase it is the same as the default (everything seen). The
    hybrid takes it as its own exclusion policy. Lists come from the one serving path, so
    an item a model has nothing behind (score 0) leaves its place to popular items, as the
    Engine serves; ``reasons`` adds each item's reason as a column."""
    ds, items, view = read_batch_inputs(events_path, items_path, on_error, report)
    if tune_minutes:
        from shelfwise.tuning import tune

        result = tune(ds.events, model, tune_minutes, items=items)
        report(f"tuned {model} in {len(result.trials)} trial(s): validation NDCG@10 "
               f"{result.default_ndcg:.4f} (defaults) -> {result.best_ndcg:.4f} with {result.best_params}")
        params = {**result.best_params, **(params or {})}
    if model == "hybrid":  # its exclusion policy: the asked-for behaviours, else everything seen
        params = {"exclude_types": list(exclude_types) if exclude_types is not None else None,
                  **(params or {})}
    rec = create(model, **(params or {})).fit(view)
    lists = batch_lists(rec, view, read_user_list(users_path), k, exclude_seen=exclude_seen,
                        exclude_types=exclude_types, reasons=reasons)
    out = pd.DataFrame([(u, r.item_id, rank + 1, *([r.reason] if reasons else [])) for u, served in lists
                        for rank, r in enumerate(served.items)],
                       columns=["user_id", "item_id", "rank", *(["reason"] if reasons else [])])
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(out_path, index=False)
    return out


def batch_lists(rec, view: Interactions, users: list[str], k: int, *, exclude_seen: bool = True,
                exclude_types: list[str] | None = None, reasons: bool = False, rules: RuleSet | None = None,
                out_of_stock: set[str] | None = None) -> list[tuple[str, object]]:
    """[(user, ServedList)] of a fitted model for each user, through the one serving path
    (``serving.Pipeline`` over the view's own histories): the same exclusion, rules, fallback
    and reasons as the Engine serves. ``exclude_types`` None excludes everything seen;
    ``out_of_stock`` item ids are never shown (default: the view catalogue's ``in_stock``)."""
    settings = Settings.model_construct(default_model=rec.name, exclude_types=exclude_types, diversity=1.0,
                                        explore=False, rules=rules or RuleSet())
    pipeline = Pipeline(settings, FittedSource(rec, view, unstocked=out_of_stock))
    request = ListRequest(n=k, exclude_seen=exclude_seen, log=False, reasons=reasons)
    return list(zip(users, pipeline.recommend_many(users, request), strict=True))


def score_recommendation_file(recs_path: str | Path, test_path: str | Path,
                              train_path: str | Path, ks=DEFAULT_KS) -> dict[str, float]:
    """Metrics of a ``user_id,item_id,rank`` file against held-out events (``test_path``,
    any events CSV), in the index space of the training events."""
    train = Interactions.from_events(load_events(train_path, fill_missing=True).events)
    test = load_events(test_path, fill_missing=True).events
    users, truth = truth_from(test, train)
    recs = pd.read_csv(recs_path, dtype={"user_id": str, "item_id": str})
    k_max = max(max(ks), int(recs["rank"].max()) if len(recs) else 1)
    table = np.full((len(users), k_max), -1, dtype=np.int64)
    row_of = {int(u): r for r, u in enumerate(users)}
    u_idx = train.users_to_indices(recs["user_id"])
    i_idx = train.items_to_indices(recs["item_id"])  # an item unknown to train can't be a hit
    i_idx[i_idx < 0] = -1
    for u, i, rank in zip(u_idx, i_idx, recs["rank"].to_numpy(), strict=True):
        r = row_of.get(int(u))
        if r is not None and rank <= k_max:
            table[r, rank - 1] = i
    return score_lists(table, truth, train, ks)
