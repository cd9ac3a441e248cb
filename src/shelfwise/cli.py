"""The ``shelfwise`` command. It parses arguments, calls the Engine or a batch job, and
prints; nothing more."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shelfwise.config import Settings
from shelfwise.data.validation import MalformedInput

app = typer.Typer(help="shelfwise: personalised recommendations for online shops.",
                  no_args_is_help=True, add_completion=False)
# Wide enough for the evaluation table when output goes to a file or CI log.
console = Console(width=None if Console().is_terminal else 150)
err = Console(stderr=True)

Home = Annotated[Path | None, typer.Option(help="Folder for the store, models and reports.")]
StoreUrl = Annotated[str | None, typer.Option(help="Event store URL (sqlite:///x.db, postgresql://...).")]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Model name.")]
ParamsOpt = Annotated[str | None, typer.Option(help='Model hyper-parameters as JSON, e.g. \'{"k": 50}\'.')]


def _engine(home: Path | None, store_url: str | None):
    from shelfwise.engine import Engine

    return Engine(Settings.from_env(home=home, store_url=store_url))


@contextmanager
def _progress():
    bars: dict[str, int] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=False) as prog:
        def update(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = prog.add_task(stage, total=total)
            prog.update(bars[stage], completed=done, total=total)
        yield update


def _fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _params(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        _fail(f"--params is not JSON: {exc}")
    if not isinstance(value, dict):
        _fail("--params must be a JSON object")
    return value


@app.command("import")
def import_(path: Path, fmt: Annotated[str, typer.Option("--format", "-f", help="Loader name.")] = "events",
            on_error: Annotated[str, typer.Option(help="fail or skip malformed rows.")] = "fail",
            map_: Annotated[list[str] | None,
                            typer.Option("--map", help="SOURCE=canonical column, repeatable.")] = None,
            home: Home = None, store_url: StoreUrl = None):
    """Import events (and any catalogue) from a file into the store. Importing the same file
    twice adds nothing."""
    engine = _engine(home, store_url)
    kwargs = {}
    if map_:
        kwargs["mapping"] = dict(m.split("=", 1) for m in map_)
    try:
        with _progress() as update:
            report = engine.import_file(path, fmt=fmt, on_error=on_error, progress=update, **kwargs)
    except MalformedInput as exc:
        _fail(str(exc))
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(f"received {report.received}, added {report.added}, "
                  f"already stored {report.duplicates}, rejected {len(report.rejected)}")
    for e in report.rejected[:20]:
        console.print(f"  skipped {e}")
    for note in report.notes:
        console.print(f"  note: {note}")


@app.command()
def train(models: Annotated[list[str] | None, typer.Option("--model", "-m")] = None,
          home: Home = None, store_url: StoreUrl = None):
    """Fit models on a snapshot of the store and save them."""
    engine = _engine(home, store_url)
    with _progress() as update:
        costs = engine.train(models, progress=update)
    console.print(costs.round(3).to_string())


@app.command()
def evaluate(recs: Annotated[Path | None, typer.Option(help="Score this user_id,item_id,rank file.")] = None,
             test: Annotated[Path | None, typer.Option(help="Held-out events CSV (with --recs).")] = None,
             train_events: Annotated[Path | None,
                                     typer.Option("--train", help="Training events CSV (with --recs).")] = None,
             models: Annotated[list[str] | None, typer.Option("--model", "-m")] = None,
             protocol: Annotated[str, typer.Option(help="loo-item, loo or temporal.")] = "loo-item",
             report: Annotated[Path | None, typer.Option(help="Folder for the report.")] = None,
             home: Home = None, store_url: StoreUrl = None):
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

    engine = _engine(home, store_url)
    try:
        frame = engine.evaluate(models, protocol=protocol, report_dir=report,
                                progress=lambda m: err.print(f"evaluating {m}..."))
    except (RuntimeError, ValueError) as exc:
        _fail(str(exc))
    console.print(rich_table(frame, title=f"Evaluation ({protocol}, full ranking)"))
    n_users, n_cold = int(frame["test_users"].iloc[0]), int(frame["cold_users"].iloc[0])
    console.print(f"{n_users} test users, {n_cold} unknown to training (scored with the "
                  "popularity fallback the engine serves them)")


@app.command()
def recommend(user_id: str, n: int = 10, model: ModelOpt = None, home: Home = None,
              store_url: StoreUrl = None):
    """Top-N items for one shopper."""
    engine = _engine(home, store_url)
    try:
        recs = engine.recommend(user_id, n, model)
    except (RuntimeError, ValueError) as exc:
        _fail(str(exc))
    for rank, r in enumerate(recs, 1):
        console.print(f"{rank:3d}. {r.item_id}  {r.score:.4f}  ({r.model})")


@app.command()
def similar(item_id: str, n: int = 10, model: ModelOpt = None, home: Home = None,
            store_url: StoreUrl = None):
    """Items that go with an item."""
    engine = _engine(home, store_url)
    try:
        recs = engine.similar(item_id, n, model)
    except (RuntimeError, ValueError, KeyError) as exc:
        _fail(str(exc))
    for rank, r in enumerate(recs, 1):
        console.print(f"{rank:3d}. {r.item_id}  {r.score:.4f}")


@app.command("forget-user")
def forget_user(user_id: str, home: Home = None, store_url: StoreUrl = None):
    """Delete every event and the profile of one shopper."""
    report = _engine(home, store_url).forget_user(user_id)
    console.print(f"deleted {report.events} events and {report.user_rows} profile row(s) of {user_id}")


@app.command("recommend-batch")
def recommend_batch(events: Annotated[Path, typer.Option(help="Training events CSV.")],
                    users: Annotated[Path, typer.Option(help="User ids, one per line.")],
                    out: Annotated[Path, typer.Option(help="Output CSV user_id,item_id,rank.")],
                    model: Annotated[str, typer.Option("--model", "-m")] = "itemknn",
                    k: Annotated[int, typer.Option("--k")] = 10,
                    params: ParamsOpt = None,
                    tune_minutes: Annotated[float | None, typer.Option(
                        help="Tune on a last-event validation split for this many minutes first.")] = None,
                    items: Annotated[Path | None, typer.Option(
                        help="Catalogue CSV (item_id, title, description, category, brand, price).")] = None,
                    on_error: Annotated[str, typer.Option(help="fail or skip malformed rows.")] = "fail",
                    include_seen: Annotated[bool, typer.Option(
                        help="Let users' own items back in (repeat purchases).")] = False):
    """Train a model on any events CSV and write top-K lists for the listed users."""
    from shelfwise.batch import recommend_batch as run

    try:
        frame = run(events, users, model, k, out, _params(params), on_error=on_error,
                    tune_minutes=tune_minutes, report=err.print, items_path=items,
                    exclude_seen=not include_seen)
    except (MalformedInput, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
    console.print(f"wrote {len(frame)} rows for {frame['user_id'].nunique()} users to {out}")


@app.command()
def tune(model: str,
         minutes: Annotated[float, typer.Option(help="Search budget in minutes.")] = 10.0,
         events: Annotated[Path | None, typer.Option(help="Events CSV; default: the store.")] = None,
         home: Home = None, store_url: StoreUrl = None):
    """Search a model's hyper-parameters on a validation split and save the best as its
    defaults for this shop (used by `train`)."""
    from shelfwise.data.loaders import load_events
    from shelfwise.tuning import tune as run

    engine = _engine(home, store_url)
    if events is not None:
        frame, items = load_events(events, fill_missing=True).events, None
    else:
        frame, items = engine.store.snapshot(), engine.store.items()
        items = items if len(items) else None
    try:
        result = run(frame, model, minutes, items=items)
    except ValueError as exc:
        _fail(str(exc))
    path = result.save(engine.tuned_dir / f"{model}.json")
    console.print(f"{len(result.trials)} trial(s); validation NDCG@10 {result.default_ndcg:.4f} "
                  f"with defaults, {result.best_ndcg:.4f} with {result.best_params}")
    console.print(f"saved to {path}")


# Models that train in seconds on the demo shop; the sequence models take minutes.
DEMO_MODELS = ["popular", "itemknn", "userknn", "rules", "ease", "als", "content"]


@app.command()
def demo(home: Annotated[Path, typer.Option(help="Folder for the demo shop.")] = Path(".shelfwise/demo"),
         users: int = 3000, items: int = 1500, seed: int = 7):
    """Generate a synthetic shop, import it, train the models and print an evaluation."""
    import shutil

    from shelfwise.data.synthetic import generate_shop
    from shelfwise.engine import Engine
    from shelfwise.evaluation.report import rich_table

    shutil.rmtree(home, ignore_errors=True)
    engine = Engine(Settings(home=home))
    console.rule("shelfwise demo")
    shop = generate_shop(n_users=users, n_items=items, seed=seed)
    console.print(f"synthetic shop: {len(shop.items)} items, {len(shop.users)} shoppers, "
                  f"{len(shop.events)} events")
    engine.store.upsert_items(shop.items)
    engine.store.upsert_users(shop.users)
    with _progress() as update:
        report = engine.ingest(shop.events, progress=update)
        engine.train(DEMO_MODELS, progress=update)
    console.print(f"stored {report.added} events in {engine.settings.resolved_store_url}")
    report_dir = home / "report"
    frame = engine.evaluate(DEMO_MODELS, report_dir=report_dir,
                            progress=lambda m: err.print(f"evaluating {m}..."))
    console.print(rich_table(frame, title="Models on the synthetic shop "
                                          "(leave last new item out, full ranking)"))
    console.print(f"report with plots: {report_dir}")
    shopper = str(shop.user_ids[0])
    console.rule(f"recommendations for {shopper}")
    titles = shop.items.set_index("item_id")["title"]
    for rank, r in enumerate(engine.recommend(shopper, 5), 1):
        why = engine.explain(shopper, r.item_id)[0]
        console.print(f"{rank}. {titles[r.item_id]} ({r.item_id}) - {why}")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
