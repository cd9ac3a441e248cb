"""The whole ``shelfwise`` command: importing the command modules registers their commands
on the app of ``shelfwise.cli.common``, in the order ``--help`` lists them."""

from __future__ import annotations

from shelfwise.cli import data, demo, experiments, marketing, service  # noqa: F401  (imported to register)
from shelfwise.cli.common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover
    app()
