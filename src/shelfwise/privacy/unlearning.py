"""Taking a forgotten shopper out of every file of a kept model version, at once.

For one version folder (``online.versions`` layout: ``view/``, one folder per model):

- every model is loaded, ``Recommender.forget_users`` takes the shopper out (count-based
  models recompute their counts from the remaining shoppers' events, exactly; the others
  empty the shopper's own rows and wait for the refit), and its files are rewritten;
- the view's matrix row and event sequence are emptied and its id is tombstoned: a NUL
  (which ids may not hold) and a random part, so no request can name the row and no two
  forgotten shoppers share an id.

Files are written beside the old ones and moved over them one by one with ``os.replace``,
so a process loading the version meanwhile reads an old file or a new one, never half of
one; every process then drops the models it loaded (``ModelVersions.models_changed``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from shelfwise.data.interactions import Interactions
from shelfwise.models.base import Recommender


@dataclass
class Unlearned:
    """What forgetting one shopper changed in one version."""

    version: str
    exact: list[str] = field(default_factory=list)  # models now equal to a fit without them
    dropped: list[str] = field(default_factory=list)  # own rows emptied; a refit finishes them
    unreadable: list[str] = field(default_factory=list)  # could not be loaded here (a missing extra)


@contextlib.contextmanager
def rewriting(root: Path):
    """Hold the home's rewrite lock (``root``/.forget.lock, an ``flock``): two deletions at
    once, in two threads or two processes, would each read a view the other is rewriting and
    put the other's shopper back."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".forget.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def tombstone() -> str:
    """An id no request can name (ids may not hold a NUL), unique to this deletion."""
    return f"\x00forgotten-{uuid.uuid4().hex}"


def forget_in_version(folder: Path, user_id: str) -> Unlearned | None:
    """Take ``user_id`` out of the version in ``folder``: its models' files and its view.
    None when the version never held them."""
    view = Interactions.load(folder / "view")
    u = view.user_index.get(str(user_id))
    if u is None:
        return None
    done = Unlearned(folder.name)
    for name in json.loads((folder / "run.json").read_text())["models"]:
        try:
            model = Recommender.load(folder / name)
        except ImportError:  # its extra is not installed in this process: it waits for the refit
            done.unreadable.append(name)
            continue
        model.forget_users([u], view)
        _replace(folder / name, model.save)
        (done.exact if model.forgets_exactly else done.dropped).append(name)
    user_ids = view.user_ids.copy()
    user_ids[u] = tombstone()
    scrubbed = dataclasses.replace(view.without_users([u]), user_ids=user_ids)
    _replace(folder / "view", scrubbed.save)
    return done


def _replace(target: Path, save) -> None:
    """``save(folder)`` into a new folder beside ``target``, then each file moved over its old
    copy (``os.replace``: atomic per file)."""
    staging = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.forget")
    try:
        save(staging)
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                dest = target / path.relative_to(staging)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
