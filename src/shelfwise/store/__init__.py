"""Event storage chosen by URL: ``open_store("sqlite:///shop.db")`` or ``postgresql://...``."""

from shelfwise.store.base import EventStore, open_store, register_backend

__all__ = ["EventStore", "open_store", "register_backend"]
