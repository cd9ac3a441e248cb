"""Forgetting a shopper everywhere.

At once (``Forgetting.forget``): their events, profile, impressions and Gorse feedback leave
the store; every kept model version is rewritten without them (``privacy.unlearning``): the
count-based models (popularity, item-kNN, user-kNN, rules, EASE, repeat, content) recompute
what they learned from the remaining shoppers' events, so every other shopper's list equals
a fit without them, and the others (ALS/BPR, the sequence models, the hybrid's ranker) lose
the shopper's own rows (factors, histories, profiles); the view's row and sequence are
emptied and its id tombstoned, uniquely. Every process sharing the home drops the models it
loaded; the online state drops their recent items, cached lists and window counts (through
Redis, in every process). A pending row and an audit row (no personal data) are written.

Then a training run without them (``Forgetting.settle``, called by ``Engine.train``): when a
run that started after the deletion serves every model, the deletion is complete: the pending
row goes, the audit row names the run, and every version no model serves is deleted, since
those files still hold the shopper's rows. ``shelfwise serve`` starts that run itself
(``online.training.ForgetRefit``) ``privacy.forget_refit_delay_seconds`` after a deletion.
A shopper forgotten while a run was training is tombstoned in that run's version too.
"""

from __future__ import annotations

import dataclasses
import time

from shelfwise.online.versions import ModelVersions
from shelfwise.privacy.unlearning import Unlearned, forget_in_version, rewriting
from shelfwise.registry import model_class
from shelfwise.store.base import DeletionReport
from shelfwise.store.forgets import ForgetLog


class Forgetting:
    def __init__(self, store, versions: ModelVersions):
        self.store, self.versions = store, versions
        self.log = ForgetLog(store.engine)

    def forget(self, user_id: str, by: str = "python") -> DeletionReport:
        """Delete the shopper from the store and rewrite every kept version without them
        (``unlearn``); ``by`` (an API key id, "cli", "python") goes to the audit row. The
        report names the models that subtracted them exactly and those that wait for the refit."""
        report = self.store.delete_user(user_id)
        unlearned = self.unlearn(user_id)
        scrubbed = len(unlearned)
        exact = {name for u in unlearned for name in u.exact}
        dropped = {name for u in unlearned for name in (*u.dropped, *u.unreadable)}
        audit_id = self.log.record(user_id, by=by, events=report.events, profile_rows=report.user_rows,
                                   impressions=report.impressions, versions=scrubbed)
        return dataclasses.replace(report, versions=scrubbed, audit_id=audit_id, exact=tuple(sorted(exact - dropped)),
                                   dropped=tuple(sorted(dropped)))

    def unlearn(self, user_id: str, versions: list[str] | None = None) -> list[Unlearned]:
        """Rewrite every kept version (or ``versions``) without the shopper; every process
        then drops what it loaded. Returns what changed, per version that held them."""
        done = []
        with rewriting(self.versions.root):  # one rewrite at a time, across threads and processes
            for version in versions if versions is not None else self.versions.list_versions():
                changed = forget_in_version(self.versions.root / version, user_id)
                if changed is not None:
                    done.append(changed)
        self.versions.models_changed()
        return done

    def settle(self, version: str) -> int:
        """After a training run wrote ``version`` (and after its models are activated): tombstone
        there the shoppers forgotten while it trained, and complete the deletions made before
        it read the store when it serves every model. Returns the deletions completed."""
        started = self.versions.run(version).get("started_at")
        if started is None:  # a version written before runs recorded when they read the store
            return 0
        pending = self.log.pending()
        during = [u for u, at in pending if at >= started]
        for user_id in during:
            self.unlearn(user_id, versions=[version])
        active = self.versions.active()
        if not active or set(active.values()) != {version}:
            return 0  # some model still serves from a version trained with them
        if not any(at < started for _, at in pending):
            return 0
        # the versions that held them go first: "no deletion pending" then means no file has them
        self.versions.drop_all_but_active()
        done = self.log.complete(before=started, version=version)
        self.store.flush_deleted()  # the pending rows named the shoppers
        return done

    def status(self) -> dict:
        """{"pending": deletions waiting for a training run, "oldest_seconds": the oldest's age,
        "exact": serving models a deletion leaves equal to a fit without the shopper,
        "refit": serving models that only drop the shopper's rows until the refit}."""
        pending = self.log.pending()
        oldest = time.time() - pending[0][1] if pending else 0.0
        exact, refit = [], []
        for name in sorted(self.versions.active()):
            try:
                (exact if model_class(name).forgets_exactly else refit).append(name)
            except ImportError:  # its extra is missing here: it cannot be rewritten either
                refit.append(name)
        return {"pending": len(pending), "oldest_seconds": round(oldest, 1), "exact": exact, "refit": refit}
