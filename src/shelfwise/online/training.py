"""Training runs in a separate process, on demand (``POST /models/train``) or on a schedule
(``serve.retrain_every_minutes``): serving never fits a model, it picks up the versions the
run activates.

A run is ``shelfwise train`` (which checks each new model on the hold-out before it serves)
with the serving settings, its output in ``<home>/logs/train-<time>-<pid>.log``.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("shelfwise.training")


def start_training(settings, models: list[str] | None = None, check: bool = True
                   ) -> tuple[subprocess.Popen, Path]:
    """Start ``shelfwise train`` for ``models`` (default: settings.models), with the hold-out
    check unless ``check`` is False; (process, log)."""
    args = [sys.executable, "-m", "shelfwise.cli", "train", "--home", str(settings.home)]
    if not check:
        args.append("--no-check")
    if settings.config is not None:
        args += ["--config", str(settings.config)]
    for name in models or []:
        args += ["-m", name]
    log_dir = Path(settings.home) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"train-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}.log"
    # The store URL goes by environment, not on the command line, where `ps` shows any
    # password in it to every user of the machine.
    env = {**os.environ, "SHELFWISE_CHECK": settings.check.model_dump_json(),
           "SHELFWISE_STORE_URL": settings.resolved_store_url}
    for name in ("data_key_file", "pseudonym_key_file"):  # paths, not keys: the child reads the files
        if getattr(settings.security, name):
            env[f"SHELFWISE_SECURITY__{name.upper()}"] = getattr(settings.security, name)
    with path.open("wb") as out:
        # bandit B603: our own CLI, no shell, arguments built here
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)  # nosec B603
    return proc, path


def run_version(log_path: str | Path) -> str | None:
    """The version a finished run wrote, from its log ("version <id>"), if it got that far."""
    try:
        found = re.findall(r"^version (\S+)$", Path(log_path).read_text(errors="replace"), re.M)
    except OSError:
        return None
    return found[-1] if found else None


class Schedule:
    """Start a training run every ``minutes`` in a daemon thread; a run still going when the
    next is due is left to finish (the next starts at the following tick)."""

    def __init__(self, settings, minutes: float):
        self.settings, self.seconds = settings, minutes * 60
        self.proc: subprocess.Popen | None = None
        self.runs: list[Path] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="shelfwise-retrain", daemon=True)

    def start(self) -> Schedule:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.seconds):
            if self.proc is not None and self.proc.poll() is None:
                log.warning("scheduled training skipped: the last run (pid %s) is still going", self.proc.pid)
                continue
            try:
                self.proc, path = start_training(self.settings)
                self.runs.append(path)
            except OSError:
                log.exception("could not start a scheduled training run")

    def stop(self) -> None:
        self._stop.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


class ForgetRefit:
    """Complete deletions (``privacy.forgetting``): when the oldest waiting one is
    ``delay_s`` old, start a training run of every serving model, without the hold-out
    check (a model refused by it would leave the shopper in the version still serving), in a
    separate process. Deletions made meanwhile wait for the next run."""

    def __init__(self, settings, delay_s: float, poll_s: float = 5.0):
        from shelfwise.online.versions import ModelVersions
        from shelfwise.store import open_store
        from shelfwise.store.forgets import ForgetLog

        self.settings, self.delay_s, self.poll_s = settings, delay_s, poll_s
        self.store = open_store(settings.resolved_store_url)
        self.log = ForgetLog(self.store.engine)
        self.versions = ModelVersions(settings.home)
        self.proc: subprocess.Popen | None = None
        self.runs: list[Path] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="shelfwise-forget-refit", daemon=True)

    def start(self) -> ForgetRefit:
        self._thread.start()
        return self

    def due(self) -> bool:
        """Whether a run should start now: a deletion has waited ``delay_s`` and none is going."""
        if self.proc is not None and self.proc.poll() is None:
            return False
        pending = self.log.pending()
        return bool(pending) and time.time() - pending[0][1] >= self.delay_s and bool(self.versions.active())

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                if self.due():
                    self.proc, path = start_training(self.settings, sorted(self.versions.active()), check=False)
                    self.runs.append(path)
                    log.info("training without forgotten shoppers: %s", path)
            except Exception:  # the loop must outlive a store hiccup; the next poll retries
                log.exception("could not start a training run for forgotten shoppers")

    def stop(self) -> None:
        self._stop.set()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.store.close()
