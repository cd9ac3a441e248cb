"""Where the serving path reads what it serves from.

``Pipeline`` asks a source for the serving model of a name (with its training view and
version), a shopper's events, the ids of out-of-stock items and the online state. Two
sources:

- ``ShopSource``: the shop's store, its model versions and the online state (what the
  Engine, the HTTP API and the precompute walker serve from);
- ``FittedSource``: one model fitted on one view, with the view's own histories and a
  popularity fallback fitted on the same view (what ``recommend-batch`` serves from).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.data.rules import RuleSet
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.errors import MissingExtra, ModelUnavailable
from shelfwise.experiments.assignment import Experiment
from shelfwise.models.base import Recommender
from shelfwise.online.state import OnlineState

CATALOGUE_TTL_S = 5.0  # another process's catalogue change (stock, price) counts within this


class ShopSource:
    """Serving from the store, the active model versions and the online state."""

    def __init__(self, store, versions, online: OnlineState | None, consent_default: bool = True):
        self.store, self.versions, self.online = store, versions, online
        self.consent_default = consent_default
        self._oos: tuple[float, int, frozenset[str]] | None = None  # (when read, generation, ids)
        self._oos_lock = threading.Lock()
        self._rules: tuple[float, int, RuleSet | None] | None = None  # (when read, generation, saved rules)
        self._book = None
        self._experiment: tuple[float, int, Experiment | None] | None = None

    def load(self, name: str) -> tuple[Recommender, Interactions, str]:
        """(the serving model ``name``, its training view, its version). ``NotTrained`` when it
        has none; ``ModelUnavailable`` when its files cannot be loaded here."""
        try:
            rec, view = self.versions.load(name)
        except (OSError, ValueError, KeyError, MissingExtra) as exc:  # what a damaged or foreign model raises
            raise ModelUnavailable(name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc
        return rec, view, self.versions.active().get(name, "")

    def events(self, user_id: str) -> tuple[list, list[str], np.ndarray]:
        return self.store.user_events(user_id)

    def consents(self, user_id: str) -> bool:
        """Whether the shopper may be served a personal list: their profile's consent, read
        on every request (a change counts at once, in every process), else the default."""
        given = self.store.consent(user_id)
        return self.consent_default if given is None else given

    def popularity_counters(self) -> str | None:
        """The name of the live popularity counters of the serving ``popular`` version."""
        return self.versions.active().get("popular") if self.online is not None else None

    def out_of_stock(self) -> frozenset[str]:
        """Ids of items out of stock now: re-read at once after a catalogue change counted by
        the online state (any process), else within ``CATALOGUE_TTL_S`` (another writer). Only
        the ids are read, not the catalogue: that is seconds at 100k items."""
        generation = self.online.catalogue_generation() if self.online is not None else 0
        hit = self._oos
        stale = hit is None or hit[1] != generation
        if (stale or time.monotonic() - hit[0] >= CATALOGUE_TTL_S) and self._oos_lock.acquire(blocking=stale):
            try:  # one thread reads, the others use the last answer meanwhile
                hit = self._oos = (time.monotonic(), generation, frozenset(self.store.out_of_stock()))
            finally:
                self._oos_lock.release()
        return hit[2]

    def catalogue_changed(self) -> None:
        self._oos = None

    @property
    def rulebook(self):
        """The rules saved from the dashboard (``serving.rulebook``), in the store's database."""
        if self._book is None:
            from shelfwise.serving.rulebook import RuleBook

            self._book = RuleBook(self.store.engine)
        return self._book

    def shop_rules(self) -> RuleSet | None:
        """The saved shop rules (None: none saved, the settings' serve), re-read as stock is:
        at once after a change counted by the online state, else within ``CATALOGUE_TTL_S``."""
        generation = self.online.catalogue_generation() if self.online is not None else 0
        hit = self._rules
        if hit is None or hit[1] != generation or time.monotonic() - hit[0] >= CATALOGUE_TTL_S:
            hit = self._rules = (time.monotonic(), generation, self.rulebook.current()[0])
        return hit[2]

    def rules_changed(self) -> None:
        self._rules = None

    def running_experiment(self) -> Experiment | None:
        """The experiment running now (``shelfwise.experiments``), re-read as the saved rules
        are: at once after a change counted by the online state, else within ``CATALOGUE_TTL_S``."""
        generation = self.online.catalogue_generation() if self.online is not None else 0
        hit = self._experiment
        if hit is None or hit[1] != generation or time.monotonic() - hit[0] >= CATALOGUE_TTL_S:
            running = [Experiment.from_record(r) for r in self.store.experiments() if r["stopped_at"] is None]
            hit = self._experiment = (time.monotonic(), generation, running[0] if running else None)
        return hit[2]

    def experiments_changed(self) -> None:
        self._experiment = None


@dataclass
class FittedSource:
    """One fitted model on one view; shoppers' events are the view's own sequences."""

    model: Recommender
    view: Interactions
    popular: Recommender | None = None  # fitted on ``view``; fitted on demand when None
    unstocked: set[str] | None = None  # out-of-stock item ids; default: the view catalogue's in_stock
    online: OnlineState | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        oos = self.unstocked
        if oos is None:
            items = self.view.items
            oos = set(items.loc[~items["in_stock"].astype(bool), "item_id"].astype(str)) \
                if items is not None and "in_stock" in items else set()
        self._oos = frozenset(oos)

    def load(self, name: str) -> tuple[Recommender, Interactions, str]:
        if name == "popular" and "global" not in self.model.capabilities:
            with self._lock:
                if self.popular is None:
                    from shelfwise.models import create

                    self.popular = create("popular").fit(self.view)
            return self.popular, self.view, "fitted"
        return self.model, self.view, "fitted"

    def events(self, user_id: str) -> tuple[list, list[str], np.ndarray]:
        u = self.view.user_index.get(user_id)
        if u is None:
            return [], [], np.zeros(0)
        a, b = self.view.seq_indptr[u], self.view.seq_indptr[u + 1]
        items = self.view.item_ids[self.view.seq_items[a:b]]
        return list(items), [EVENT_TYPES[t] for t in self.view.seq_types[a:b]], self.view.seq_times[a:b]

    def consents(self, user_id: str) -> bool:
        return True  # a batch file's shoppers are the file's own

    def popularity_counters(self) -> str | None:
        return None

    def out_of_stock(self) -> frozenset[str]:
        return self._oos

    def catalogue_changed(self) -> None:
        pass
