"""Engine: the one object the CLI, the HTTP API and Python users call.

It wires the event store, the training view and the models:

    engine = Engine(Settings(home=".shelfwise"))
    engine.import_file("events.csv")
    engine.train()
    engine.recommend("U000042", n=10)

Every training run is a model version under ``<home>/versions/`` (see
``shelfwise.online.versions``); each model serves from the version ``active.json`` names, so
a new process serves without retraining, training some models keeps the others, and an
older version can be activated again.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from shelfwise.config import Settings
from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import LOADERS, Dataset
from shelfwise.data.schemas import Event
from shelfwise.data.splits import leave_one_out, temporal_split
from shelfwise.data.validation import OnError, RowError, validate_events
from shelfwise.errors import NoData, UnknownId
from shelfwise.evaluation.cost import measure
from shelfwise.evaluation.harness import evaluate_models, evaluation_truth, results_frame
from shelfwise.evaluation.report import write_report
from shelfwise.explanations import item_label, ordinal, popularity_statement, rank_of
from shelfwise.models import Recommender, create
from shelfwise.models.base import top_n
from shelfwise.online.versions import ModelVersions
from shelfwise.store import EventStore, open_store
from shelfwise.store.base import DeletionReport
from shelfwise.tuning import tuned_params

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _listed(view: Interactions, rec: Recommender, items: np.ndarray, scores: np.ndarray
            ) -> list[Recommendation]:
    """One shopper's top list (item indices, scores; -1 pads) as Recommendations."""
    return [Recommendation(str(view.item_ids[i]), float(s), rec.name)
            for i, s in zip(items, scores, strict=True) if i >= 0]


@dataclass
class IngestReport:
    received: int = 0
    added: int = 0
    rejected: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.received - len(self.rejected) - self.added


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    score: float
    model: str  # the model that placed the item
    reason: str | None = None  # why a fallback placed it, when one did


class Engine:
    def __init__(self, settings: Settings | None = None, store: EventStore | None = None):
        self.settings = settings or Settings.from_env()
        self._store = store
        self._versions: ModelVersions | None = None
        self.online = None  # an OnlineState (the HTTP API sets one): its counters move popular

    # -- storage -------------------------------------------------------------------
    @property
    def store(self) -> EventStore:
        if self._store is None:
            self._store = open_store(self.settings.resolved_store_url)
        return self._store

    @property
    def versions(self) -> ModelVersions:
        """Model versions: what each training run made, and which version serves each model."""
        if self._versions is None:
            self._versions = ModelVersions(self.settings.home, keep=self.settings.keep_versions)
        return self._versions

    @property
    def tuned_dir(self) -> Path:
        """Where ``shelfwise tune`` keeps each model's best parameters for this shop."""
        return Path(self.settings.home) / "tuned"

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    # -- ingest ----------------------------------------------------------------------
    def ingest(self, events: pd.DataFrame | Iterable[Event], on_error: OnError = "fail",
               progress: Progress | None = None) -> IngestReport:
        """Validate and append events in chunks (each chunk one transaction). Re-sending
        events is harmless: ids already stored are skipped."""
        if not isinstance(events, pd.DataFrame):
            rows = [e.model_dump() if hasattr(e, "model_dump") else dict(e) for e in events]
            events = pd.DataFrame(rows)
            if len(events):
                events["event_type"] = events["event_type"].map(lambda t: getattr(t, "value", t))
        if len(events) == 0:
            return IngestReport()
        clean, errors = validate_events(events, on_error=on_error)
        return self._append(clean, IngestReport(received=len(events), rejected=errors), progress)

    def _append(self, clean: pd.DataFrame, report: IngestReport,
                progress: Progress | None) -> IngestReport:
        step = self.settings.import_chunk_rows
        for start in range(0, len(clean), step):
            report.added += self.store.append_events(clean.iloc[start:start + step])
            if progress:
                progress("import", min(start + step, len(clean)), len(clean))
        return report

    def import_dataset(self, dataset: Dataset, progress: Progress | None = None) -> IngestReport:
        """Store a loaded dataset: catalogue and users first, then events."""
        if dataset.items is not None and len(dataset.items):
            self.store.upsert_items(dataset.items)
        if dataset.users is not None and len(dataset.users):
            self.store.upsert_users(dataset.users)
        report = IngestReport(received=len(dataset.events) + len(dataset.errors),
                              rejected=list(dataset.errors), notes=list(dataset.notes))
        return self._append(dataset.events, report, progress)

    def import_file(self, path: str | Path, fmt: str = "events", on_error: OnError = "fail",
                    progress: Progress | None = None, **loader_kwargs) -> IngestReport:
        """Load ``path`` with the named loader (see ``LOADERS``) and store it. With
        ``on_error="fail"`` a malformed row stops the import before anything is written."""
        if fmt not in LOADERS:
            raise ValueError(f"Unknown format {fmt!r}. Known: {', '.join(sorted(LOADERS))}.")
        accepted = inspect.signature(LOADERS[fmt]).parameters
        extra = sorted(set(loader_kwargs) - set(accepted))
        if extra:
            raise ValueError(f"The {fmt!r} format takes no {', '.join(extra)} option "
                             "(a column mapping is for --format events).")
        dataset = LOADERS[fmt](path, on_error=on_error, **loader_kwargs)
        return self.import_dataset(dataset, progress)

    # -- training ----------------------------------------------------------------------
    def training_view(self) -> Interactions:
        items = self.store.items()
        return Interactions.from_events(self.store.snapshot(),
                                        items=items if len(items) else None,
                                        weights=self.settings.behaviour_weights)

    def train(self, models: list[str] | None = None, params: dict[str, dict] | None = None,
              progress: Progress | None = None, activate: bool = True) -> pd.DataFrame:
        """Fit the named models (default: settings.models, plus ``popular`` as the cold-start
        fallback) on a snapshot of the store, as one new model version, and serve them from
        it (``activate``). Models not named keep serving from their version. Returns fit cost
        per model, with the version id in ``frame.attrs["version"]``."""
        names = list(dict.fromkeys([*(models or self.settings.models), "popular"]))
        for name in names:  # fail on a bad name or a missing extra before any work
            create(name)
        view = self.training_view()
        if view.n_events == 0:
            raise NoData("The store holds no events: import some before training.")
        rows = []

        def fit(save) -> None:
            for done, name in enumerate(names):
                if progress:
                    progress("train", done, len(names))
                chosen = {**tuned_params(self.tuned_dir, name), **(params or {}).get(name, {})}
                model = create(name, **chosen)
                with measure() as cost:
                    model.fit(view)
                save(name, model, {"fit_s": cost.seconds, "peak_mb": cost.peak_mb, "params": chosen})
                rows.append({"model": name, "fit_s": cost.seconds, "peak_mb": cost.peak_mb})
            if progress:
                progress("train", len(names), len(names))

        version = self.versions.write(view, fit)
        if activate:
            self.versions.activate(version)
        frame = pd.DataFrame(rows).set_index("model")
        frame.attrs["version"] = version
        return frame

    def model_records(self) -> dict[str, dict]:
        """Per serving model: its version, when it was trained, fit cost."""
        out = {}
        for name, version in sorted(self.versions.active().items()):
            run = self.versions.run(version)
            out[name] = {"version": version, "trained_at": run["trained_at"], **run["models"][name]}
        return out

    def _load(self, name: str | None) -> tuple[Recommender, Interactions]:
        """The serving model called ``name`` (default: settings.default_model) and the training
        view it was fitted on. A version activated by another process serves at once."""
        return self.versions.load(name or self.settings.default_model)

    def trained_models(self) -> list[str]:
        return sorted(self.versions.active())

    # -- serving -----------------------------------------------------------------------
    def recommend(self, user_id: str, n: int = 10, model: str | None = None,
                  exclude_seen: bool = True) -> list[Recommendation]:
        """Top-``n`` for one shopper, from their events as they are in the store now.

        Models that score from a history (``live``: item-kNN, rules, EASE, content, ALS/BPR;
        ``sequence``: the PyTorch models) read the shopper's events at request time, so the
        last event counts before the next retrain and a new shopper is personalised from
        their first event. Other models answer from the trained view. A shopper with no
        usable events, unknown to the trained view, gets the popularity fallback.

        An item the model scores exactly 0 has nothing behind it (no neighbour, rule or
        co-occurrence links it to the shopper), so it is not listed as the model's: popular
        items the shopper has not touched take those places, each with its ``reason``."""
        rec, view = self._load(model)
        recs = self._recommend_live(rec, view, str(user_id), n, exclude_seen)
        if recs is None:
            u = view.user_index.get(str(user_id))
            if u is None:
                return [dataclasses.replace(r, reason="unknown shopper") for r in self.popular(n)]
            items, scores = rec.recommend(np.array([u]), n, exclude_seen=exclude_seen)
            recs = _listed(view, rec, items[0], scores[0])
        kept = [r for r in recs if r.score != 0 or rec.name == "popular"]
        if len(kept) == n:
            return kept
        reason = f"the {rec.name} model has nothing more for this shopper"
        taken = {r.item_id for r in kept}
        if exclude_seen:
            taken |= {i for i in self.store.user_events(str(user_id))[0] if i is not None}
        fill = [dataclasses.replace(r, reason=reason) for r in self.popular(n + len(taken))
                if r.item_id not in taken]
        return kept + fill[:n - len(kept)]

    def popular(self, n: int = 10) -> list[Recommendation]:
        """The shop's top-``n`` by the ``popular`` model: the cold-start list."""
        rec, view = self._load("popular")
        counts = self.online and self.online.popularity(self.versions.active()["popular"])
        if not counts:
            items, scores = rec.recommend(np.array([0]), n, exclude_seen=False)
            return _listed(view, rec, items[0], scores[0])
        # what events accepted since the popular version was trained add to its counts
        scores = rec.score(np.array([0]))[0].astype(np.float32)
        idx = np.array([view.item_index.get(i, -1) for i in counts], dtype=np.int64)
        known = idx >= 0
        np.add.at(scores, idx[known], np.fromiter(counts.values(), np.float32, len(counts))[known])
        items, top = top_n(scores[None, :], n)
        return _listed(view, rec, items[0], top[0])

    def recommend_session(self, item_ids: list[str], types: list[str], times: np.ndarray, n: int = 10,
                          model: str | None = None) -> list[Recommendation]:
        """Top-``n`` for an anonymous shopper given by their events (item ids, event type names,
        Unix times (k,), oldest first), scored as ``recommend`` scores a known shopper from the
        store; seen items are left out. With no event on a trained item, or a model without a
        live path, the popular list answers, each item with its ``reason``."""
        rec, view = self._load(model)
        live = self._scores_from_events(rec, view, item_ids, types, np.asarray(times, np.float64))
        if live is None:
            reason = "no event on a trained item" if "live" in rec.capabilities or \
                "sequence" in rec.capabilities else f"the {rec.name} model does not score sessions"
            return [dataclasses.replace(r, reason=reason) for r in self.popular(n)]
        scores, touched = live
        scores[touched] = -np.inf
        items, top = top_n(scores[None, :], n)
        kept = [r for r in _listed(view, rec, items[0], top[0]) if r.score != 0 or rec.name == "popular"]
        taken = {r.item_id for r in kept} | set(item_ids)
        fill = [dataclasses.replace(r, reason=f"the {rec.name} model has nothing more for this session")
                for r in self.popular(n + len(taken)) if r.item_id not in taken]
        return kept + fill[:n - len(kept)]

    def _recommend_live(self, rec, view, user_id: str, n: int, exclude_seen: bool):
        live = self._live_scores(rec, view, user_id)
        if live is None:
            return None
        scores, touched = live
        if exclude_seen:
            scores[touched] = -np.inf
        items, top = top_n(scores[None, :], n)
        return _listed(view, rec, items[0], top[0])

    def _live_scores(self, rec, view, user_id: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(scores (n_items,) float32, indices of the items the shopper touched) from the
        shopper's events in the store now, for a ``live`` or ``sequence`` model; None when the
        model has no live path or the shopper has no event on a trained item."""
        if not {"live", "sequence"} & rec.capabilities:
            return None
        return self._scores_from_events(rec, view, *self.store.user_events(user_id))

    def _scores_from_events(self, rec, view, item_ids: list, types: list[str], times: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray] | None:
        """As ``_live_scores``, for events given rather than read from the store."""
        if not {"live", "sequence"} & rec.capabilities:
            return None
        index = view.item_index
        idx = np.array([index.get(i, -1) if i is not None else -1 for i in item_ids], dtype=np.int64)
        keep = idx >= 0
        if not keep.any():
            return None
        args = ([idx[keep]], [[t for t, k in zip(types, keep, strict=True) if k]], [times[keep]])
        score = rec.score_sequences if "sequence" in rec.capabilities else rec.score_histories
        return np.array(score(*args)[0], dtype=np.float32), idx[keep]

    def similar(self, item_id: str, n: int = 10, model: str | None = None
                ) -> list[Recommendation]:
        rec, view = self._load(model)
        if "similar_items" not in rec.capabilities:
            raise ValueError(f"Model {rec.name!r} does not answer similar-item queries.")
        i = view.item_index.get(str(item_id))
        if i is None:
            raise UnknownId(f"Unknown item {item_id!r}: it is not in the trained catalogue.")
        items, scores = rec.similar_items(np.array([i]), n)
        return [Recommendation(str(view.item_ids[j]), float(s), rec.name)
                for j, s in zip(items[0], scores[0], strict=True) if j >= 0]

    def explain(self, user_id: str, item_id: str, model: str | None = None) -> list[str]:
        """Plain-language statements about ``item_id`` for this shopper, each true of the
        trained view and of what ``recommend`` would serve them:

        - a shopper unknown to the view gets the popularity fallback: the item's rank in the
          shop's popularity list ("most popular" only within the top ``TOP_POPULAR``);
        - an item the shopper already has, or the model cannot rank, is said to be so;
        - a model with the ``explain`` capability gives the history items behind the score,
          then the item's rank for the shopper; any other model gives only that rank.
        """
        rec, view = self._load(model)
        i = view.item_index.get(str(item_id))
        if i is None:
            return [f"{item_id} is not in the trained catalogue, so no model recommends it"]
        label = item_label(view, i)
        served = self._served_scores(rec, view, str(user_id))
        if served is None:  # unknown shopper: recommend serves them the popularity fallback
            return [popularity_statement(self._load("popular")[0], i, label)]
        scores, seen = served
        if seen[i]:
            return [f"you have already interacted with {label}, so the {rec.name} model does "
                    "not recommend it to you"]
        if not np.isfinite(scores[i]):
            return [f"the {rec.name} model cannot rank {label} for you"]
        rank = ordinal(rank_of(scores, i))
        if rec.name == "popular":
            return [popularity_statement(rec, i, label), f"ranked {rank} for you by the "
                    "popular model, once what you have seen is left out"]
        u = view.user_index.get(str(user_id))
        if "explain" not in rec.capabilities or u is None:
            return [f"ranked {rank} for you by the {rec.name} model, which gives no reasons"]
        reasons = [f"because you showed interest in {item_label(view, j)} (weight {w:.3f})"
                   for j, w in rec.explain(u, i)]
        if not reasons:
            reasons = [f"nothing in your history points to {label}"]
        return [*reasons, f"ranked {rank} for you by the {rec.name} model"]

    def _served_scores(self, rec: Recommender, view: Interactions, user_id: str
                       ) -> tuple[np.ndarray, np.ndarray] | None:
        """(scores (n_items,) float32 with excluded items at -inf, seen bool (n_items,)) as
        ``recommend`` ranks them for this shopper, or None when the fallback serves them."""
        seen = np.zeros(view.n_items, dtype=bool)
        live = self._live_scores(rec, view, user_id)  # the live path of recommend
        if live is not None:
            scores, touched = live
            seen[touched] = True
            scores[seen] = -np.inf
            return scores, seen
        u = view.user_index.get(user_id)
        if u is None:
            return None
        scores = rec.score(np.array([u]))[0].copy()
        seen[rec.seen_[u].indices] = True
        scores[seen] = -np.inf
        return scores, seen

    # -- privacy -----------------------------------------------------------------------
    def forget_user(self, user_id: str) -> DeletionReport:
        """Delete a shopper's events and profile from the store, and stop serving them from
        the trained view at once (they are treated as a new shopper until the next train,
        which drops them from the models too)."""
        report = self.store.delete_user(str(user_id))
        self.versions.forget_user(str(user_id))
        return report

    # -- evaluation ----------------------------------------------------------------------
    def evaluate(self, models: list[str] | None = None, protocol: str = "loo-item",
                 report_dir: str | Path | None = None, params: dict[str, dict] | None = None,
                 progress: Callable[[str], None] | None = None) -> pd.DataFrame:
        """Offline evaluation on the store: split, fit each model on the train part, score
        full-ranking top-K lists. protocol: "loo-item" (last new item per shopper), "loo"
        (last event) or "temporal" (last 20% of time).

        Each model is built as ``train`` builds it (tuned parameters, then ``params``), and
        test shoppers unknown to the train part get what ``recommend`` serves them, the
        ``popular`` fallback built the same way; the frame's ``cold_users`` counts them."""
        events = self.store.snapshot()
        if len(events) == 0:
            raise NoData("The store holds no events: import some before evaluating.")
        items = self.store.items()
        if protocol == "temporal":
            split = temporal_split(events)
        elif protocol in ("loo", "loo-item"):
            split = leave_one_out(events, by="item" if protocol == "loo-item" else "event")
        else:
            raise ValueError(f"Unknown protocol {protocol!r}: loo-item, loo or temporal.")
        item_ids = pd.unique(pd.concat([events["item_id"].dropna().astype(str),
                                        items["item_id"].astype(str)]))
        train = Interactions.from_events(split.train, items=items if len(items) else None,
                                         weights=self.settings.behaviour_weights,
                                         item_ids=item_ids)
        names = models or list(self.settings.models)
        zoo = {n: self._served_model(n, params) for n in names}
        results = evaluate_models(zoo, train, split.test, progress=progress,
                                  fallback=self._served_model("popular", params))
        if report_dir is not None:
            write_report(report_dir, results, evaluation_truth(split.test, train))
        return results_frame(results)

    def _served_model(self, name: str, params: dict[str, dict] | None) -> Recommender:
        """An unfitted model with the parameters ``train`` gives it: tuned, then explicit."""
        return create(name, **{**tuned_params(self.tuned_dir, name),
                               **(params or {}).get(name, {})})
