"""The store, training, evaluation and list commands of ``shelfwise``, and ``config``.

Each parses its options, calls the Engine or a batch job, and prints; nothing more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shelfwise.cli.common import (
    Behaviour,
    Config,
    FormatName,
    Home,
    ModelName,
    ModelOpt,
    ModelsOpt,
    OnError,
    ParamsOpt,
    Protocol,
    StoreUrl,
    _engine,
    _fail,
    _params,
    _progress,
    command,
    console,
    err,
)


@command("import")
def import_(path: Path,
            fmt: Annotated[FormatName, typer.Option("--format", "-f", help="Loader name.")] = "events",
            on_error: OnError = "fail",
            map_: Annotated[list[str] | None,
                            typer.Option("--map", help="SOURCE=canonical column, repeatable.")] = None,
            home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Import events (and any catalogue) from a file into the store.

    Importing the same file twice adds nothing."""
    engine = _engine(home, store_url, config)
    kwargs = {}
    if map_:
        bad = [m for m in map_ if "=" not in m]
        if bad:
            _fail(f"--map takes SOURCE=column, got {bad[0]!r}")
        kwargs["mapping"] = dict(m.split("=", 1) for m in map_)
    with _progress() as update:
        report = engine.import_file(path, fmt=fmt, on_error=on_error, progress=update, **kwargs)
    console.print(f"received {report.received}, added {report.added}, "
                  f"already stored {report.duplicates}, rejected {len(report.rejected)}")
    for e in report.rejected[:20]:
        console.print(f"  skipped {e}")
    for note in report.notes:
        console.print(f"  note: {note}")


@command()
def train(models: ModelsOpt = None, home: Home = None, store_url: StoreUrl = None,
          config: Config = None,
          check: Annotated[bool | None, typer.Option(
              "--check/--no-check", help="Hold-out check before serving (default: settings check.enabled).")
          ] = None,
          on: Annotated[str | None, typer.Option(
              "--engine", help="local or spark: where popular, itemknn, rules and als fit (default: settings "
                   "training.engine).")] = None):
    """Fit models on a snapshot of the store as a new version, and serve each model that
    passes the hold-out check (not worse than the active one by more than check.margin).

    Models not named keep their last training."""
    from shelfwise.online.holdout import METRIC, check_and_activate

    if on not in (None, "local", "spark"):
        _fail(f"--engine must be 'local' or 'spark'; got {on!r}")
    engine = _engine(home, store_url, config)
    if check is not None:
        engine.settings.check.enabled = check
    with _progress() as update:
        costs = engine.train(models, progress=update, activate=False, engine=on)
    console.print(costs.round(3).to_string())
    version = costs.attrs["version"]
    verdict = check_and_activate(engine, version)
    console.print(f"version {version}", highlight=False)
    if verdict.get("note"):
        console.print(verdict["note"], highlight=False)
    for name, result in verdict["models"].items():
        word = "serving" if result["passed"] else "NOT activated"
        console.print(f"{name}: {word}: {result.get('reason') or result[METRIC]}", highlight=False)


@command()
def evaluate(recs: Annotated[Path | None, typer.Option(help="Score this user_id,item_id,rank file.")] = None,
             test: Annotated[Path | None, typer.Option(help="Held-out events CSV (with --recs).")] = None,
             train_events: Annotated[Path | None,
                                     typer.Option("--train", help="Training events CSV (with --recs).")] = None,
             models: ModelsOpt = None,
             protocol: Annotated[Protocol, typer.Option(
                 help="loo-item (last new item), loo (last event) or temporal (last 20% of time).")
             ] = "loo-item",
             report: Annotated[Path | None, typer.Option(help="Folder for the report.")] = None,
             by_segment: Annotated[bool, typer.Option(help="Also NDCG@10 per shopper segment "
                                                           "(after shelfwise segments --fit).")] = False,
             home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Evaluate models on the store (full ranking), or score an exported recommendation file."""
    if recs is not None:
        if test is None or train_events is None:
            _fail("--recs needs --test and --train")
        from shelfwise.batch import score_recommendation_file

        metrics = score_recommendation_file(recs, test, train_events)
        table = Table(title=f"{recs.name}")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for k, v in metrics.items():
            table.add_row(k, f"{v:.4f}")
        console.print(table)
        return
    from shelfwise.evaluation.report import rich_table

    engine = _engine(home, store_url, config)
    frame = engine.evaluate(models, protocol=protocol, report_dir=report,
                            progress=lambda m: err.print(f"evaluating {m}..."), by_segment=by_segment)
    console.print(rich_table(frame, title=f"Evaluation ({protocol}, full ranking)"))
    if "fairness" in frame.attrs:
        from shelfwise.evaluation.report import FAIRNESS_CAPTION

        console.print("Fairness:")
        console.print(frame.attrs["fairness"].to_string(float_format=lambda x: f"{x:.4f}"))
        console.print(FAIRNESS_CAPTION, style="dim")
    if by_segment:
        console.print("NDCG@10 per segment:")
        console.print(frame.attrs["by_segment"].to_string(float_format=lambda x: f"{x:.4f}"))
    n_users, n_cold = int(frame["test_users"].iloc[0]), int(frame["cold_users"].iloc[0])
    console.print(f"{n_users} test users, {n_cold} unknown to training (scored with the "
                  "popularity fallback the engine serves them)")


@command()
def recommend(user_id: str, n: Annotated[int, typer.Option("--n", "-n", min=1, max=1000)] = 10,
              model: ModelOpt = None, home: Home = None, store_url: StoreUrl = None,
              config: Config = None):
    """Top-N items for one shopper."""
    # an operator's look-up, not a list shown to the shopper: kept out of the impression log
    recs = _engine(home, store_url, config).recommend(user_id, n, model, log=False)
    for rank, r in enumerate(recs, 1):
        console.print(f"{rank:3d}. {r.item_id}  {r.score:.4f}  ({r.model})")


@command()
def similar(item_id: str, n: Annotated[int, typer.Option("--n", "-n", min=1, max=1000)] = 10,
            model: ModelOpt = None, home: Home = None, store_url: StoreUrl = None,
            config: Config = None):
    """Items that go with an item."""
    recs = _engine(home, store_url, config).similar(item_id, n, model)
    for rank, r in enumerate(recs, 1):
        console.print(f"{rank:3d}. {r.item_id}  {r.score:.4f}")


@command("forget-user")
def forget_user(user_id: str, home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Forget one shopper: their events, profile and impressions, and their place in every
    kept model version at once; the next training run of every serving model completes it
    (`shelfwise serve` starts one itself)."""
    report = _engine(home, store_url, config).forget_user(user_id, by="cli")
    console.print(f"deleted {report.events} events, {report.user_rows} profile row(s) and "
                  f"{report.impressions} impression(s) of {user_id}; rewritten without them in "
                  f"{report.versions} model version(s) (subtracted exactly: {', '.join(report.exact) or '-'}; "
                  f"own rows dropped: {', '.join(report.dropped) or '-'}); audit {report.audit_id}; complete "
                  "after the next training run of every serving model", highlight=False)


@command()
def retention(home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Apply privacy.event_retention_days and privacy.no_consent_events now: old events and
    those of shoppers without consent deleted, their per-item counts kept (`serve` does this
    every privacy.retention_every_minutes)."""
    from shelfwise.privacy.retention import apply_retention

    engine = _engine(home, store_url, config)
    done = apply_retention(engine.store, engine.settings.privacy)
    console.print(f"deleted {done.expired} event(s) older than {engine.settings.privacy.event_retention_days:g} "
                  f"day(s) and {done.reduced} event(s) of {done.shoppers} shopper(s) without consent "
                  f"({engine.settings.privacy.no_consent_events})", highlight=False, soft_wrap=True)


@command("recommend-batch")
def recommend_batch(events: Annotated[Path, typer.Option(help="Training events CSV.")],
                    users: Annotated[Path, typer.Option(help="User ids, one per line.")],
                    out: Annotated[Path, typer.Option(help="Output CSV user_id,item_id,rank.")],
                    model: Annotated[ModelName, typer.Option("--model", "-m")] = "itemknn",
                    k: Annotated[int, typer.Option("--k", min=1, max=1000)] = 10,
                    params: ParamsOpt = None,
                    tune_minutes: Annotated[float | None, typer.Option(
                        min=0.01, help="Tune on a last-event validation split for this many minutes first.")] = None,
                    items: Annotated[Path | None, typer.Option(
                        help="Catalogue CSV (item_id, title, description, category, brand, price, "
                             "attributes: ids separated by |).")] = None,
                    on_error: OnError = "fail",
                    include_seen: Annotated[bool, typer.Option(
                        help="Let users' own items back in (repeat purchases).")] = False,
                    exclude_types: Annotated[list[Behaviour] | None, typer.Option(
                        "--exclude-types", help="Exclude only items with these behaviours (repeat the "
                                                "option), e.g. purchase: viewed and carted items stay.")] = None):
    """Train a model on any events CSV and write top-K lists for the listed users."""
    from shelfwise.batch import recommend_batch as run

    frame = run(events, users, model, k, out, _params(params), on_error=on_error,
                tune_minutes=tune_minutes, report=err.print, items_path=items,
                exclude_seen=not include_seen,
                exclude_types=[str(t) for t in exclude_types] if exclude_types else None)
    console.print(f"wrote {len(frame)} rows for {frame['user_id'].nunique()} users to {out}")


@command()
def tune(model: Annotated[ModelName, typer.Argument()],
         minutes: Annotated[float, typer.Option(min=0.01, help="Search budget in minutes.")] = 10.0,
         events: Annotated[Path | None, typer.Option(help="Events CSV; default: the store.")] = None,
         home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Search a model's hyper-parameters and keep the best as this shop's defaults.

    The search scores a last-event validation split; `train` then uses the best."""
    from shelfwise.data.loaders import load_events
    from shelfwise.tuning import tune as run

    engine = _engine(home, store_url, config)
    if events is not None:
        frame, items = load_events(events, fill_missing=True).events, None
    else:
        frame, items = engine.store.snapshot(), engine.store.items()
        items = items if len(items) else None
    if len(frame) == 0:
        _fail("no events to tune on: import some, or pass --events")
    result = run(frame, model, minutes, items=items)
    path = result.save(engine.tuned_dir / f"{model}.json")
    console.print(f"{len(result.trials)} trial(s); validation NDCG@10 {result.default_ndcg:.4f} "
                  f"with defaults, {result.best_ndcg:.4f} with {result.best_params}")
    console.print(f"saved to {path}")


@command("config")
def show_config(home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Print the effective settings, each with where it came from.

    Sources: an option, a SHELFWISE_* variable, the TOML file, or the default. The event
    store is the URL in use (store_url "" is the SQLite file in home); passwords in URLs
    are masked."""
    from shelfwise.config import describe

    rows = describe(home=home, store_url=store_url, config=config)
    width = max(len(f"{name} = {json.dumps(value, default=str)}") for name, value, _ in rows)
    for name, value, origin in rows:
        line = f"{name} = {json.dumps(value, default=str)}"
        console.print(f"{line:<{width}}  # {origin}", soft_wrap=True, highlight=False, markup=False)
