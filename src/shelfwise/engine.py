"""Engine: the one object the CLI, the HTTP API and Python users call.

It wires the event store, the training view and the models:

    engine = Engine(Settings(home=".shelfwise"))
    engine.import_file("events.csv")
    engine.train()
    engine.recommend("U000042", n=10)

Trained models live in ``<home>/models/<name>/`` beside the training view they were fitted
on (``<home>/models/_view``), so a new process serves them without retraining.
"""

from __future__ import annotations

import dataclasses
import shutil
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
from shelfwise.evaluation.cost import measure
from shelfwise.evaluation.harness import evaluate_models, evaluation_truth, results_frame
from shelfwise.evaluation.report import write_report
from shelfwise.models import Recommender, create
from shelfwise.models.base import top_n
from shelfwise.store import EventStore, open_store
from shelfwise.store.base import DeletionReport
from shelfwise.tuning import tuned_params

Progress = Callable[[str, int, int], None]  # (stage, done, total)


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
    model: str


class Engine:
    def __init__(self, settings: Settings | None = None, store: EventStore | None = None):
        self.settings = settings or Settings.from_env()
        self._store = store
        self._models: dict[str, Recommender] = {}
        self._view: Interactions | None = None

    # -- storage -------------------------------------------------------------------
    @property
    def store(self) -> EventStore:
        if self._store is None:
            self._store = open_store(self.settings.resolved_store_url)
        return self._store

    @property
    def model_dir(self) -> Path:
        return Path(self.settings.home) / "models"

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
        dataset = LOADERS[fmt](path, on_error=on_error, **loader_kwargs)
        return self.import_dataset(dataset, progress)

    # -- training ----------------------------------------------------------------------
    def training_view(self) -> Interactions:
        items = self.store.items()
        return Interactions.from_events(self.store.snapshot(),
                                        items=items if len(items) else None,
                                        weights=self.settings.behaviour_weights)

    def train(self, models: list[str] | None = None, params: dict[str, dict] | None = None,
              progress: Progress | None = None) -> pd.DataFrame:
        """Fit the named models (default: settings.models, plus ``popular`` as the cold-start
        fallback) on a snapshot of the store and save them. Returns fit cost per model."""
        names = list(dict.fromkeys([*(models or self.settings.models), "popular"]))
        view = self.training_view()
        if view.n_events == 0:
            raise RuntimeError("The store holds no events: import some before training.")
        staging = self.model_dir.with_name("models.new")
        shutil.rmtree(staging, ignore_errors=True)
        view.save(staging / "_view")
        rows = []
        for done, name in enumerate(names):
            if progress:
                progress("train", done, len(names))
            model = create(name, **{**tuned_params(self.tuned_dir, name),
                                    **(params or {}).get(name, {})})
            with measure() as cost:
                model.fit(view)
            model.save(staging / name)
            rows.append({"model": name, "fit_s": cost.seconds, "peak_mb": cost.peak_mb})
        if progress:
            progress("train", len(names), len(names))
        # swap the whole folder at once so readers never see half a training run
        old = self.model_dir.with_name("models.old")
        shutil.rmtree(old, ignore_errors=True)
        if self.model_dir.exists():
            self.model_dir.rename(old)
        staging.rename(self.model_dir)
        shutil.rmtree(old, ignore_errors=True)
        self._models, self._view = {}, None
        return pd.DataFrame(rows).set_index("model")

    def _load(self, name: str | None) -> tuple[Recommender, Interactions]:
        name = name or self.settings.default_model
        if self._view is None:
            if not (self.model_dir / "_view").exists():
                raise RuntimeError("No trained models: run train first.")
            self._view = Interactions.load(self.model_dir / "_view")
        if name not in self._models:
            if not (self.model_dir / name).exists():
                raise ValueError(f"Model {name!r} is not trained. Trained: "
                                 f"{', '.join(sorted(self.trained_models()))}.")
            self._models[name] = Recommender.load(self.model_dir / name)
        return self._models[name], self._view

    def trained_models(self) -> list[str]:
        if not self.model_dir.exists():
            return []
        return sorted(p.name for p in self.model_dir.iterdir()
                      if (p / "model.json").exists())

    # -- serving -----------------------------------------------------------------------
    def recommend(self, user_id: str, n: int = 10, model: str | None = None,
                  exclude_seen: bool = True) -> list[Recommendation]:
        """Top-``n`` for one shopper. Shoppers unknown to the trained view (new, or
        forgotten) get the popularity fallback."""
        rec, view = self._load(model)
        u = view.user_index.get(str(user_id))
        if "sequence" in rec.capabilities:
            # read the shopper's events as they are now: a session in progress counts
            # before the next retrain, and so does a shopper the model has never seen
            live = self._recommend_live(rec, view, str(user_id), n, exclude_seen)
            if live is not None:
                return live
        if u is None:
            rec = self._load("popular")[0]
            items, scores = rec.recommend(np.array([0]), n, exclude_seen=False)
        else:
            items, scores = rec.recommend(np.array([u]), n, exclude_seen=exclude_seen)
        return [Recommendation(str(view.item_ids[i]), float(s), rec.name)
                for i, s in zip(items[0], scores[0], strict=True) if i >= 0]

    def _recommend_live(self, rec, view, user_id: str, n: int, exclude_seen: bool):
        hist = self.store.user_history(user_id)
        idx = view.items_to_indices(hist["item_id"].fillna(""))
        keep = idx >= 0
        if not keep.any():
            return None
        scores = rec.score_sequences([idx[keep]], [hist["event_type"].to_numpy()[keep].tolist()],
                                     [hist["timestamp"].to_numpy()[keep]])
        if exclude_seen:
            scores[0, idx[keep]] = -np.inf
        items, top = top_n(scores, n)
        return [Recommendation(str(view.item_ids[i]), float(s), rec.name)
                for i, s in zip(items[0], top[0], strict=True) if i >= 0]

    def similar(self, item_id: str, n: int = 10, model: str | None = None
                ) -> list[Recommendation]:
        rec, view = self._load(model)
        if "similar_items" not in rec.capabilities:
            raise ValueError(f"Model {rec.name!r} does not answer similar-item queries.")
        i = view.item_index.get(str(item_id))
        if i is None:
            raise KeyError(f"Unknown item {item_id!r}")
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
        label = _item_label(view, i)
        served = self._served_scores(rec, view, str(user_id))
        if served is None:  # unknown shopper: recommend serves them the popularity fallback
            return [_popularity_statement(self._load("popular")[0], i, label)]
        scores, seen = served
        if seen[i]:
            return [f"you have already interacted with {label}, so the {rec.name} model does "
                    "not recommend it to you"]
        if not np.isfinite(scores[i]):
            return [f"the {rec.name} model cannot rank {label} for you"]
        rank = _ordinal(_rank_of(scores, i))
        if rec.name == "popular":
            return [_popularity_statement(rec, i, label), f"ranked {rank} for you by the "
                    "popular model, once what you have seen is left out"]
        u = view.user_index.get(str(user_id))
        if "explain" not in rec.capabilities or u is None:
            return [f"ranked {rank} for you by the {rec.name} model, which gives no reasons"]
        reasons = [f"because you showed interest in {_item_label(view, j)} (weight {w:.3f})"
                   for j, w in rec.explain(u, i)]
        if not reasons:
            reasons = [f"nothing in your history points to {label}"]
        return [*reasons, f"ranked {rank} for you by the {rec.name} model"]

    def _served_scores(self, rec: Recommender, view: Interactions, user_id: str
                       ) -> tuple[np.ndarray, np.ndarray] | None:
        """(scores (n_items,) float32 with excluded items at -inf, seen bool (n_items,)) as
        ``recommend`` ranks them for this shopper, or None when the fallback serves them."""
        seen = np.zeros(view.n_items, dtype=bool)
        if "sequence" in rec.capabilities:  # the live path of recommend, from the store
            hist = self.store.user_history(user_id)
            idx = view.items_to_indices(hist["item_id"].fillna(""))
            keep = idx >= 0
            if keep.any():
                scores = rec.score_sequences(
                    [idx[keep]], [hist["event_type"].to_numpy()[keep].tolist()],
                    [hist["timestamp"].to_numpy()[keep]])[0].astype(np.float32)
                seen[idx[keep]] = True
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
        view_dir = self.model_dir / "_view"
        if view_dir.exists():
            view = Interactions.load(view_dir)
            u = view.user_index.get(str(user_id))
            if u is not None:
                user_ids = view.user_ids.copy()
                user_ids[u] = ""  # tombstone: no external id maps here any more
                dataclasses.replace(view, user_ids=user_ids).save(view_dir)
            self._view = None
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
            raise RuntimeError("The store holds no events: import some before evaluating.")
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


#: ranks that may be called "most popular" in explanations
TOP_POPULAR = 10


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _rank_of(scores: np.ndarray, i: int) -> int:
    """1-based position of item ``i`` in the order ``top_n`` gives ``scores`` (n_items,):
    higher score first, ties by lower index."""
    s = scores[i]
    return int((scores > s).sum() + (scores[:i] == s).sum()) + 1


def _item_label(view: Interactions, j: int) -> str:
    titles = view.items["title"] if view.items is not None and "title" in view.items else None
    return str(titles.iloc[j]) if titles is not None and pd.notna(titles.iloc[j]) \
        else str(view.item_ids[j])


def _popularity_statement(popular: Recommender, i: int, label: str) -> str:
    """Where item ``i`` stands in the fitted ``popular`` model's list, in words."""
    pop = popular.popularity_
    if pop[i] <= 0:
        return f"no shopper has interacted with {label} yet"
    rank = int((pop > pop[i]).sum()) + 1  # competition rank: tied items share it
    ties = int((pop == pop[i]).sum()) - 1
    by = ("by number of shoppers" if popular.count == "users" else "by weighted interactions")
    if popular.half_life_days is not None:
        by += f", recent ones counting more (half-life {popular.half_life_days:g} days)"
    tied = f", tied with {ties} other item{'s' if ties > 1 else ''}" if ties else ""
    if rank <= TOP_POPULAR:
        return f"{label} is the shop's {_ordinal(rank)} most popular item ({by}{tied})"
    return f"{label} is ranked {_ordinal(rank)} of {len(pop)} items {by}{tied}"
