"""Errors a user can act on. The CLI prints any ``ShelfwiseError`` as one line and exits 2;
the HTTP API maps them to 4xx. Each also subclasses the built-in it refines, so callers
that catch ``ValueError`` or ``LookupError`` keep working."""

from __future__ import annotations


class ShelfwiseError(Exception):
    """An error with a message fit to show the user as it is."""


class MissingExtra(ShelfwiseError, ImportError):
    """A model or feature needs an optional install (``pip install 'shelfwise[extra]'``)."""

    def __init__(self, what: str, extra: str, missing: list[str]):
        self.extra = extra
        super().__init__(f"{what} needs the '{extra}' extra (missing: {', '.join(missing)}): "
                         f"pip install 'shelfwise[{extra}]' -c constraints.txt")


class NoData(ShelfwiseError, RuntimeError):
    """The store holds nothing to train or evaluate on."""


class NotTrained(ShelfwiseError, RuntimeError):
    """A model is asked for before it was trained."""


class UnknownId(ShelfwiseError, LookupError):
    """A shopper or item id the trained view does not know. Not a ``KeyError``, whose message
    would come out in quotes."""


class ModelUnavailable(ShelfwiseError, RuntimeError):
    """A trained model that cannot be loaded where it should serve (its files unreadable or
    of another format, or its extra not installed in this process)."""

    def __init__(self, model: str, why: str):
        self.model = model
        super().__init__(f"model {model!r} cannot be loaded: {why}")
