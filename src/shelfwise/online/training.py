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


def start_training(settings, models: list[str] | None = None) -> tuple[subprocess.Popen, Path]:
    """Start ``shelfwise train`` for ``models`` (default: settings.models); (process, log)."""
    args = [sys.executable, "-m", "shelfwise.cli", "train", "--home", str(settings.home)]
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
    with path.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
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
