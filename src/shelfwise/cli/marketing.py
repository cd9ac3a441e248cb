"""Shopper portraits, segments and campaigns: ``shelfwise profile``, ``shelfwise segments``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from shelfwise.cli.common import Config, Home, StoreUrl, _engine, command, console


@command()
def profile(user_id: Annotated[str, typer.Argument(help="The shopper's id.")] = "",
            rebuild: Annotated[bool, typer.Option(help="Recompute every portrait from the event log first "
                                                       "(a store imported before portraits existed).")] = False,
            home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """A shopper's portrait: affinities, price band, RFM, activity, life-cycle stage, habits."""
    engine = _engine(home, store_url, config)
    if rebuild:
        console.print(f"rebuilt the portraits of {engine.portraits.rebuild()} shoppers")
    if user_id:
        console.print_json(json.dumps(engine.profile(user_id)))
    elif not rebuild:
        raise ValueError("name a shopper (shelfwise profile USER) or pass --rebuild")
