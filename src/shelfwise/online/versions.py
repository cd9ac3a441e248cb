"""Model versions: every training run is a version; each model name points at the version
that serves it, and pointing it back is a rollback.

Layout under the home folder::

    versions/<version>/run.json      what the run trained, when, at what cost
    versions/<version>/view/         the training view (id maps) the run's models share
    versions/<version>/<model>/      each model the run fitted
    active.json                      {model name: version}, replaced atomically

A version folder is written under a temporary name and renamed when complete, and
``active.json`` is swapped with ``os.replace``, so a reader (another process too) sees the old
state or the new one, never half of either. A training run that dies leaves at most a
temporary folder, which the next run removes. A run holds a lock (``flock``) on
``versions/.<version>.lock`` while it writes, and a temporary folder whose lock is held is
another run in progress, left alone: two runs on one home at once (a scheduled one and
``shelfwise train``) each write a whole version. Activations take ``active.lock`` around
their read-modify-write of ``active.json``, so one does not undo another.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from shelfwise.data.interactions import Interactions
from shelfwise.errors import NotTrained, UnknownId
from shelfwise.models.base import Recommender

RUN = "run.json"
ACTIVE = "active.json"
FORGOTTEN = "forgotten.stamp"  # touched by every forget: loaded models are dropped everywhere


class ModelVersions:
    """The versions folder of one home, and a cache of the models loaded from it."""

    def __init__(self, home: str | Path, keep: int = 5):
        self.root = Path(home) / "versions"
        self.active_path = Path(home) / ACTIVE
        self.keep = keep  # versions kept besides the active ones
        self._loaded: dict[tuple[str, str], Recommender] = {}
        self._views: dict[str, Interactions] = {}
        self._active: dict[str, str] = {}
        self._active_stamp: int | None = -1
        self.forgotten_path = Path(home) / FORGOTTEN
        self._forgotten_stamp = self._stamp(self.forgotten_path)
        # serving threads that miss the cache together load a model once, not once each
        self._lock = threading.Lock()

    # -- writing ------------------------------------------------------------------------
    def write(self, view: Interactions, fit: Callable[[Callable[[str, Recommender, dict], None]], None],
              started: float | None = None) -> str:
        """Write a new version: ``fit(save)`` calls ``save(name, model, record)`` for each model
        it fits; ``started`` (Unix seconds) is when ``view`` was read from the store. Returns
        the version id. Nothing is activated here."""
        version = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.root.mkdir(parents=True, exist_ok=True)
        lock = self.root / f".{version}.lock"
        with _locked(lock):  # before the folder exists: a folder without its lock is a dead run's
            self._drop_leftovers()
            staging = self.root / f".{version}.new"
            view.save(staging / "view")
            models: dict[str, dict] = {}

            def save(name: str, model: Recommender, record: dict) -> None:
                model.save(staging / name)
                models[name] = record

            fit(save)
            run = {"version": version, "trained_at": _now(), "started_at": started, "n_users": view.n_users,
                   "n_items": view.n_items, "n_events": view.n_events, "models": models}
            (staging / RUN).write_text(json.dumps(run, indent=2))
            staging.rename(self.root / version)
            lock.unlink()
        return version

    def _drop_leftovers(self) -> None:
        """Remove the temporary folders of runs that died. A run locks before it makes its
        folder, so a folder whose lock is missing or free is a dead run's, and one whose lock
        is held is a live run's."""
        for staging in self.root.glob(".*.new"):
            lock = staging.with_suffix(".lock")
            if lock.exists():
                with open(lock, "a") as f:
                    try:
                        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue
                    lock.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)

    def activate(self, version: str, models: list[str] | None = None) -> dict[str, str]:
        """Serve ``models`` (default: all the version trained) from ``version``; returns the
        active map. A rollback is this call with an older version."""
        run = self.run(version)
        names = models or list(run["models"])
        missing = sorted(set(names) - set(run["models"]))
        if missing:
            raise UnknownId(f"version {version} has no model(s) {', '.join(missing)}")
        with _locked(self.active_path.with_suffix(".lock")):
            active = {**self.active(), **dict.fromkeys(names, version)}
            tmp = self.active_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(active, indent=2, sort_keys=True))
            os.replace(tmp, self.active_path)
            self._drop_old()
        return active

    def _drop_old(self) -> None:
        """Keep the active versions and the ``keep`` newest others."""
        used = set(self.active().values())
        others = [v for v in self.list_versions() if v not in used]
        for version in others[:-self.keep] if self.keep else others:
            shutil.rmtree(self.root / version, ignore_errors=True)

    # -- reading ------------------------------------------------------------------------
    @staticmethod
    def _stamp(path: Path) -> int | None:
        try:
            return path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def active(self) -> dict[str, str]:
        """{model name: version}; re-read when another process has changed it."""
        try:
            stamp = self.active_path.stat().st_mtime_ns
        except FileNotFoundError:
            return {}
        if stamp != self._active_stamp:
            self._active = json.loads(self.active_path.read_text())
            self._active_stamp = stamp
        return dict(self._active)

    def list_versions(self) -> list[str]:
        """Complete versions, oldest first (ids sort by time)."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / RUN).exists())

    def run(self, version: str) -> dict:
        path = self.root / version / RUN
        if not path.exists():
            raise UnknownId(f"no model version {version!r}")
        return json.loads(path.read_text())

    def load(self, name: str) -> tuple[Recommender, Interactions]:
        """The active model called ``name`` and its training view."""
        active = self.active()
        if not active:
            raise NotTrained("No trained models: run `shelfwise train` first.")
        if name not in active:
            raise NotTrained(f"Model {name!r} is not trained. Trained: {', '.join(sorted(active))}.")
        version = active[name]
        forgotten = self._stamp(self.forgotten_path)
        if forgotten != self._forgotten_stamp:  # a shopper was forgotten, here or elsewhere
            with self._lock:
                self._loaded, self._views, self._forgotten_stamp = {}, {}, forgotten
        key = (name, version)
        if key not in self._loaded:
            with self._lock:
                if version not in self._views:
                    self._views[version] = Interactions.load(self.root / version / "view")
                if key not in self._loaded:
                    self._loaded[key] = Recommender.load(self.root / version / name)
        return self._loaded[key], self._views[version]

    # -- privacy --------------------------------------------------------------------------
    def models_changed(self) -> None:
        """Files of kept versions were rewritten in place (a shopper forgotten,
        ``privacy.unlearning``): every process sharing the home drops the models and views it
        loaded (``FORGOTTEN``'s time changes), this one at once."""
        self.forgotten_path.write_text(uuid.uuid4().hex)  # a new mtime for every process
        with self._lock:
            self._loaded, self._views = {}, {}

    def drop_all_but_active(self) -> list[str]:
        """Delete every version no model serves from (they may hold forgotten shoppers)."""
        used = set(self.active().values())
        dropped = [v for v in self.list_versions() if v not in used]
        for version in dropped:
            shutil.rmtree(self.root / version, ignore_errors=True)
        return dropped


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive ``flock`` on ``path`` (created if missing) for the block."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield
