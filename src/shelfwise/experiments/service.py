"""Experiments as the Engine offers them: create, list, read with statistics, stop.

One experiment runs at a time: two running at once would both change the same lists, and
neither's difference could be read alone. Creating or stopping one calls ``changed`` (the
Engine voids cached lists in every process and re-reads the running experiment).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from shelfwise.errors import ShelfwiseError, UnknownId
from shelfwise.experiments.assignment import Experiment, check_variants
from shelfwise.experiments.report import DAY, ab_report, interleave_report, shopper_frame


class ExperimentConflict(ShelfwiseError, ValueError):
    """An experiment cannot start while another runs, nor stop twice."""


class Experiments:
    def __init__(self, store, changed: Callable[[], None] | None = None):
        self.store, self.changed = store, changed

    def create(self, name: str, variants: list[dict], kind: str = "ab", traffic: float = 1.0,
               pre_days: float = 14.0, now: float | None = None) -> dict:
        """Start an experiment now; returns its summary. ``variants``: [{name, share, options}]
        (``assignment.check_variants``); ``traffic``: the share of shoppers in it."""
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 255:
            raise ValueError("name: give the experiment a name of 1 to 255 characters")
        if isinstance(traffic, bool) or not isinstance(traffic, int | float) or not 0 < traffic <= 1:
            raise ValueError("traffic: must be a number in (0, 1]")
        if isinstance(pre_days, bool) or not isinstance(pre_days, int | float) or not 0 <= pre_days <= 365:
            raise ValueError("pre_days: must be a number of days in [0, 365]")
        checked = check_variants(kind, variants)
        running = self.running()
        if running is not None:
            raise ExperimentConflict(f"experiment {running.experiment_id} ({running.name!r}) is running: "
                                     "stop it first")
        experiment = Experiment(secrets.token_hex(8), name.strip(), kind, tuple(checked), secrets.token_hex(16),
                                float(traffic), time.time() if now is None else float(now), None, float(pre_days))
        self.store.create_experiment({"experiment_id": experiment.experiment_id, "name": experiment.name,
                                      "kind": kind, "created_at": experiment.created_at, "spec": experiment.spec()})
        self._changed()
        return summary(experiment)

    def all(self) -> list[Experiment]:
        return [Experiment.from_record(r) for r in self.store.experiments()]

    def get(self, experiment_id: str) -> Experiment:
        for experiment in self.all():
            if experiment.experiment_id == experiment_id:
                return experiment
        raise UnknownId(f"Unknown experiment {experiment_id!r}.")

    def running(self) -> Experiment | None:
        return next((e for e in self.all() if e.running), None)

    def stop(self, experiment_id: str, now: float | None = None) -> dict:
        self.get(experiment_id)  # UnknownId first
        if not self.store.stop_experiment(experiment_id, time.time() if now is None else float(now)):
            raise ExperimentConflict(f"experiment {experiment_id} is stopped already")
        self._changed()
        return summary(self.get(experiment_id))

    def status(self, experiment_id: str, confidence: float = 0.95) -> dict:
        """The summary with the statistics (``report``) as the log and the store have them now."""
        if not 0.5 < confidence < 1:
            raise ValueError("confidence: must be in (0.5, 1)")
        experiment = self.get(experiment_id)
        shown = self.store.experiment_impressions(experiment_id)
        users = sorted(set(shown["user_id"]) - {""})
        events = self.store.events_of(users, experiment.created_at - experiment.pre_days * DAY)
        out = summary(experiment)
        out["confidence"] = confidence
        if experiment.kind == "interleave":
            out["interleaving"] = interleave_report(experiment, shown, events, confidence)
        else:
            out.update(ab_report(experiment, shopper_frame(experiment, shown, events), confidence))
        return out

    def _changed(self) -> None:
        if self.changed is not None:
            self.changed()


def summary(experiment: Experiment) -> dict:
    return {"experiment_id": experiment.experiment_id, "name": experiment.name, "kind": experiment.kind,
            "status": "running" if experiment.running else "stopped", "created_at": experiment.created_at,
            "stopped_at": experiment.stopped_at, "traffic": experiment.traffic, "pre_days": experiment.pre_days,
            "variants": [{"name": v.name, "share": v.share, "options": v.options} for v in experiment.variants]}
