"""The ``shelfwise`` command. It parses arguments, calls the Engine or a batch job, and
prints; nothing more."""

from __future__ import annotations

import enum
import functools
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pydantic
import sqlalchemy.exc
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shelfwise.config import Settings
from shelfwise.data.loaders import LOADERS
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.data.validation import MalformedInput
from shelfwise.errors import ShelfwiseError
from shelfwise.models import MODELS
from shelfwise.models.params import InvalidParameterError

app = typer.Typer(help="shelfwise: personalised recommendations for online shops.",
                  no_args_is_help=True, add_completion=False)
# Wide enough for the evaluation table when output goes to a file or CI log.
console = Console(width=None if Console().is_terminal else 150)
err = Console(stderr=True, soft_wrap=True)  # an error stays on one line, however long

# Options with a fixed set of values are checked by the parser, which lists the valid ones.
ModelName = enum.StrEnum("ModelName", {n: n for n in sorted(MODELS)})
FormatName = enum.StrEnum("FormatName", {n: n for n in sorted(LOADERS)})
OnErrorMode = enum.StrEnum("OnErrorMode", {"fail": "fail", "skip": "skip"})
Protocol = enum.StrEnum("Protocol", {n: n for n in ("loo-item", "loo", "temporal")})
Behaviour = enum.StrEnum("Behaviour", {n: n for n in EVENT_TYPES})

Home = Annotated[Path | None, typer.Option(help="Folder for the store, models and reports.")]
StoreUrl = Annotated[str | None, typer.Option(help="Event store URL (sqlite:///x.db, postgresql://...).")]
Config = Annotated[Path | None, typer.Option("--config", help="TOML settings file "
                                             "(default: <home>/shelfwise.toml if present).")]
ModelOpt = Annotated[ModelName | None, typer.Option("--model", "-m", help="Model name.")]
ModelsOpt = Annotated[list[ModelName] | None, typer.Option("--model", "-m", help="Model name (repeatable).")]
OnError = Annotated[OnErrorMode, typer.Option(help="fail or skip malformed rows.")]
ParamsOpt = Annotated[str | None, typer.Option(help='Model hyper-parameters as JSON, e.g. \'{"k": 50}\'.')]

# Errors a user can act on: printed as one line with exit status 2, never a traceback.
EXPECTED = (ShelfwiseError, MalformedInput, InvalidParameterError, pydantic.ValidationError,
            ValueError, OSError, sqlalchemy.exc.OperationalError)


def _one_line(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or exc.title
        message = first["msg"].removeprefix("Value error, ")
        return f"setting {where}: {message} (got {first.get('input')!r})"
    if isinstance(exc, sqlalchemy.exc.OperationalError):
        first = str(exc.orig or exc).strip().splitlines()[0]
        return f"cannot use the event store: {first}"
    if isinstance(exc, MalformedInput):
        return str(exc)  # its first line counts the bad rows, one line each follows
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def command(*args, group: typer.Typer | None = None, **kwargs):
    """``app.command`` (or ``group.command``) whose function reports expected errors as one
    line and exits 2."""
    def register(func):
        @functools.wraps(func)
        def run(*a, **kw):
            kw = {k: _plain(v) for k, v in kw.items()}
            try:
                return func(*a, **kw)
            except EXPECTED as exc:
                _fail(_one_line(exc))
        return (group or app).command(*args, **kwargs)(run)
    return register


def _plain(value):
    """Enum choices back to the plain strings the Engine takes."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _settings(home: Path | None, store_url: str | None, config: Path | None = None) -> Settings:
    return Settings.from_env(home=home, store_url=store_url, config=config)


def _engine(home: Path | None, store_url: str | None, config: Path | None = None):
    from shelfwise.engine import Engine

    return Engine(_settings(home, store_url, config))


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
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
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
          ] = None):
    """Fit models on a snapshot of the store as a new version, and serve each model that
    passes the hold-out check (not worse than the active one by more than check.margin).

    Models not named keep their last training."""
    from shelfwise.online.holdout import METRIC, check_and_activate

    engine = _engine(home, store_url, config)
    if check is not None:
        engine.settings.check.enabled = check
    with _progress() as update:
        costs = engine.train(models, progress=update, activate=False)
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
                            progress=lambda m: err.print(f"evaluating {m}..."))
    console.print(rich_table(frame, title=f"Evaluation ({protocol}, full ranking)"))
    n_users, n_cold = int(frame["test_users"].iloc[0]), int(frame["cold_users"].iloc[0])
    console.print(f"{n_users} test users, {n_cold} unknown to training (scored with the "
                  "popularity fallback the engine serves them)")


@command()
def recommend(user_id: str, n: Annotated[int, typer.Option("--n", "-n", min=1, max=1000)] = 10,
              model: ModelOpt = None, home: Home = None, store_url: StoreUrl = None,
              config: Config = None):
    """Top-N items for one shopper."""
    recs = _engine(home, store_url, config).recommend(user_id, n, model)
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
    """Delete every event and the profile of one shopper."""
    report = _engine(home, store_url, config).forget_user(user_id)
    console.print(f"deleted {report.events} events and {report.user_rows} profile row(s) of {user_id}")


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


# Models that train in seconds on the demo shop; the sequence models take minutes.
@command("config")
def show_config(home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Print the effective settings, each with where it came from.

    Sources: an option, a SHELFWISE_* variable, the TOML file, or the default."""
    from shelfwise.config import describe

    rows = describe(home=home, store_url=store_url, config=config)
    width = max(len(f"{name} = {json.dumps(value, default=str)}") for name, value, _ in rows)
    for name, value, origin in rows:
        line = f"{name} = {json.dumps(value, default=str)}"
        console.print(f"{line:<{width}}  # {origin}", soft_wrap=True, highlight=False, markup=False)


# the demo and the service commands (serve, keys) live in their own modules; importing them
# registers them
from shelfwise import cli_demo, cli_service  # noqa: E402, F401


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    # `python -m shelfwise.cli` runs this file as __main__: call the app of the imported
    # module, the one the service commands registered on
    from shelfwise.cli import main as registered_main

    registered_main()
