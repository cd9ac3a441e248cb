"""The ``shelfwise`` command line: ``common`` (the app and shared helpers), the command
modules ``data``, ``demo`` and ``service`` (each imports only ``common``), and ``main``,
which imports them all. ``app`` is handed on from ``main`` so ``shelfwise.cli:app`` (older
installs' entry point) and ``from shelfwise.cli import app`` keep working; no submodule
imports this package."""

from shelfwise.cli.main import app, main

__all__ = ["app", "main"]
