"""Event storage chosen by URL: ``open_store("sqlite:///shop.db")`` or ``postgresql://...``."""

from shelfwise.store.base import DeletionReport, EventStore
from shelfwise.store.registry import open_store, register_backend

__all__ = ["DeletionReport", "EventStore", "open_store", "register_backend"]
