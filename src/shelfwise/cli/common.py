"""What every ``shelfwise`` command shares: the typer app they register on (``command``),
the consoles, the common options (Home, StoreUrl, Config, ...), and the helpers that build
settings and the Engine, show progress bars and fail with one line.

This module imports no other ``shelfwise.cli`` module; the command modules import only this
one, and ``shelfwise.cli.main`` imports them all so their commands register."""

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


def _check_port(host: str, port: int, hint: str = "pass another --port") -> None:
    """Fail with one line, before any server starts, when ``host:port`` is taken."""
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            _fail(f"cannot listen on {host}:{port} ({exc.strerror}): {hint}")
