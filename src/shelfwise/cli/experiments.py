"""A/B tests and interleaving: ``shelfwise experiments create|list|status|stop``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from shelfwise.cli.common import Config, Home, StoreUrl, _engine, app, command, console

experiments_app = typer.Typer(help="A/B tests and interleaving: create, list, status, stop.", no_args_is_help=True)
app.add_typer(experiments_app, name="experiments")
Kind = typer.Option(help="ab: split shoppers by share; interleave: merge both variants' lists (team draft).")


def parse_variant(text: str) -> dict:
    """'NAME', 'NAME:SHARE' or 'NAME:SHARE:{options JSON}' -> {name, share?, options?}."""
    parts = text.split(":", 2)
    out: dict = {"name": parts[0]}
    if len(parts) > 1 and parts[1]:
        try:
            out["share"] = float(parts[1])
        except ValueError:
            raise ValueError(f"--variant {text!r}: the share after the name must be a number") from None
    if len(parts) > 2:
        try:
            out["options"] = json.loads(parts[2])
        except ValueError as exc:
            raise ValueError(f"--variant {text!r}: the options are not JSON ({exc})") from None
    return out


@command("create", group=experiments_app)
def create(name: Annotated[str, typer.Argument(help="What the experiment tests.")],
           variant: Annotated[list[str], typer.Option(help="NAME[:SHARE[:OPTIONS_JSON]], repeatable; the first is "
                                                           "the control. Options: model, diversity, explore, "
                                                           "rules, exclude_types.")],
           kind: Annotated[str, Kind] = "ab",
           traffic: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of all shoppers in it.")] = 1.0,
           pre_days: Annotated[float, typer.Option(min=0.0, max=365.0, help="CUPED's pre-period, days.")] = 14.0,
           home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Start an experiment (one runs at a time); prints its id."""
    engine = _engine(home, store_url, config)
    made = engine.experiments.create(name, [parse_variant(v) for v in variant], kind, traffic, pre_days)
    console.print(made["experiment_id"])


@command("list", group=experiments_app)
def list_(home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Every experiment, oldest first."""
    for e in _engine(home, store_url, config).experiments.all():
        shares = ", ".join(f"{v.name} {v.share:.0%}" for v in e.variants)
        console.print(f"{e.experiment_id}  {'running' if e.running else 'stopped':8} {e.kind:10} {e.name}  ({shares})")


@command("status", group=experiments_app)
def status(experiment_id: Annotated[str, typer.Argument(help="The experiment's id.")],
           confidence: Annotated[float, typer.Option(min=0.5, max=0.999)] = 0.95,
           home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Per-variant statistics (as GET /experiments/{id} answers), as JSON."""
    console.print_json(json.dumps(_engine(home, store_url, config).experiments.status(experiment_id, confidence)))


@command("stop", group=experiments_app)
def stop(experiment_id: Annotated[str, typer.Argument(help="The experiment's id.")],
         home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Stop an experiment: every shopper is served the shop's settings again."""
    made = _engine(home, store_url, config).experiments.stop(experiment_id)
    console.print(f"stopped {made['experiment_id']} ({made['name']})")
