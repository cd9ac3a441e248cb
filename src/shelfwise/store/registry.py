"""Stores chosen by URL: backends register a URL scheme, ``open_store(url)`` picks one.

The built-in SQL backends are registered here, at import, so the interface (``store.base``)
and the backends (``store.sql``) never import this module or each other in a circle.
"""

from __future__ import annotations

from collections.abc import Callable

from shelfwise.store.base import EventStore
from shelfwise.store.sql import PostgresEventStore, SqliteEventStore

_BACKENDS: dict[str, Callable[[str], EventStore]] = {}


def register_backend(prefix: str, factory: Callable[[str], EventStore]) -> None:
    """Make ``open_store`` hand URLs starting with ``prefix`` (e.g. "sqlite") to ``factory``."""
    _BACKENDS[prefix] = factory


def open_store(url: str, cipher=None) -> EventStore:
    """Open the store a URL names: ``sqlite:///path.db``, ``sqlite://`` (memory) or
    ``postgresql://user@host/db`` (any ``postgresql+driver://`` form too). ``cipher``
    (``store.fields.FieldCipher``) encrypts its personal fields; None keeps them plain."""
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in _BACKENDS:
        known = ", ".join(sorted(_BACKENDS))
        raise ValueError(f"No event store for URL scheme {scheme!r} (known: {known}).")
    store = _BACKENDS[scheme](url)
    store.cipher = cipher
    return store


register_backend("sqlite", SqliteEventStore)
register_backend("postgresql", PostgresEventStore)
register_backend("postgres", PostgresEventStore)
