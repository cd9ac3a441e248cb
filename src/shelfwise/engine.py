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

import inspect
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from shelfwise.config import Settings
from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import LOADERS, Dataset
from shelfwise.data.schemas import Event
from shelfwise.data.validation import OnError, RowError, validate_events
from shelfwise.errors import NoData
from shelfwise.evaluation.cost import measure
from shelfwise.evaluation.shop import evaluate_shop
from shelfwise.experiments.service import Experiments
from shelfwise.marketing.service import Marketing
from shelfwise.models import Recommender, create
from shelfwise.models.spark import SparkTrainer
from shelfwise.online.state import OnlineState, open_state
from shelfwise.online.versions import ModelVersions
from shelfwise.privacy.dp import PublicCounts
from shelfwise.privacy.forgetting import Forgetting
from shelfwise.privacy.report import privacy_report
from shelfwise.profiles import Portraits
from shelfwise.serving import (
    Context,
    Explainer,
    ImpressionLog,
    ListRequest,
    Pipeline,
    Recommendation,
    ServedList,
    ShopSource,
)
from shelfwise.serving.feedback import Feedback
from shelfwise.store import EventStore, open_store
from shelfwise.store.base import DeletionReport
from shelfwise.tuning import tuned_params

Progress = Callable[[str, int, int], None]  # (stage, done, total)
__all__ = ["Context", "Engine", "IngestReport", "Recommendation", "ServedList"]


@dataclass
class IngestReport:
    received: int = 0
    added: int = 0
    rejected: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.received - len(self.rejected) - self.added


class Engine:
    def __init__(self, settings: Settings | None = None, store: EventStore | None = None,
                 online: OnlineState | None = None):
        self.settings = settings or Settings.from_env()
        self._store = store
        self._versions: ModelVersions | None = None
        self._online = online
        self._parts: tuple | None = None  # (pipeline, explainer, feedback, impressions), built on first use
        self._portraits: Portraits | None = None
        self._marketing: Marketing | None = None
        self._forgetting: Forgetting | None = None
        self._experiments: Experiments | None = None

    # -- the serving path's parts -------------------------------------------------------
    @property
    def online(self) -> OnlineState:
        """The online state events move at once (in this process, or Redis: ``online.url``)."""
        if self._online is None:
            self._online = open_state(self.settings.online)
        return self._online

    @online.setter
    def online(self, state: OnlineState) -> None:
        self._online, self._parts = state, None

    def _serving(self) -> tuple[Pipeline, Explainer, Feedback, ImpressionLog | None]:
        if self._parts is None:
            imp = self.settings.impressions
            log = ImpressionLog(self.store, flush_seconds=imp.flush_seconds,
                                retention_days=imp.retention_days) if imp.enabled else None
            pipeline = Pipeline(self.settings, ShopSource(self.store, self.versions, self.online,
                                                         consent_default=self.settings.privacy.consent_default), log)
            pipeline.segment_of = lambda user: (self.portraits.segment_of(user) or {}).get("id")
            if self.settings.privacy.dp_enabled:  # published counts through OpenDP (privacy.dp)
                pipeline.published.public = PublicCounts(
                    self.store, self.settings, catalogue=lambda: pipeline.source.load("popular")[1].item_ids)
            self._parts = (pipeline, Explainer(pipeline), Feedback(self.settings, self.versions, self.online, log),
                           log)
        return self._parts

    @property
    def pipeline(self) -> Pipeline:
        """The one serving path (``shelfwise.serving.pipeline``)."""
        return self._serving()[0]

    @property
    def impressions(self) -> ImpressionLog | None:
        return self._serving()[3]

    # -- storage -------------------------------------------------------------------
    @property
    def store(self) -> EventStore:
        if self._store is None:
            from shelfwise.store.fields import FieldCipher

            self._store = open_store(self.settings.resolved_store_url, cipher=FieldCipher.from_settings(self.settings))
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

    @property
    def portraits(self) -> Portraits:
        """Shopper portraits, kept current by ``accepted`` (``shelfwise.profiles``)."""
        if self._portraits is None:
            self._portraits = Portraits(self.store, self.settings)
        return self._portraits

    @property
    def marketing(self) -> Marketing:
        """Propensity models, audiences and campaigns (``shelfwise.marketing``)."""
        if self._marketing is None:
            self._marketing = Marketing(self.store, self.settings, self.portraits, self._load)
        return self._marketing

    @property
    def experiments(self) -> Experiments:
        """A/B tests and interleaving (``shelfwise.experiments``); starting or stopping one voids
        cached lists in every process sharing the online state, and this process re-reads it."""
        if self._experiments is None:
            def changed() -> None:
                self.online.catalogue_changed()  # the generation every list key holds
                self.pipeline.source.experiments_changed()
            self._experiments = Experiments(self.store, changed)
        return self._experiments

    def close(self) -> None:
        if self._parts is not None and self._parts[3] is not None:
            self._parts[3].close()  # queued impressions written before the store closes
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
            chunk = clean.iloc[start:start + step]
            added = self.store.append_events(chunk)
            report.added += added
            if added:  # a chunk that was wholly a re-send moves nothing
                self.accepted(chunk[["user_id", "item_id", "event_type", "timestamp", "value", "context"]]
                              .to_dict("records"), counted=added == len(chunk))
            if progress:
                progress("import", min(start + step, len(clean)), len(clean))
        return report

    def accepted(self, rows: list[dict], counted: bool = True) -> None:
        """Move the online state for event rows now durable in the store (every ingest path
        calls this): popularity counters, the shoppers' cached lists, live weekly counts and
        the exploration bandit's feedback; and the shoppers' portraits. ``counted`` False: a
        partly re-sent batch, whose new rows are not known, moves no counter (its shoppers'
        portraits are rebuilt from the store)."""
        self._serving()[2].accepted(rows, counted)
        self.portraits.accepted(rows, counted)

    def import_dataset(self, dataset: Dataset, progress: Progress | None = None) -> IngestReport:
        """Store a loaded dataset: catalogue and users first, then events."""
        if dataset.items is not None and len(dataset.items):
            self.store.upsert_items(dataset.items)
            self.portraits.catalogue_changed()
        if dataset.users is not None and len(dataset.users):
            self.upsert_users(dataset.users)
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
        if fmt == "gorse":  # Gorse's feedback types map to behaviours by the shop's settings
            loader_kwargs.setdefault("settings", self.settings.gorse)
        extra = sorted(set(loader_kwargs) - set(accepted))
        if extra:
            raise ValueError(f"The {fmt!r} format takes no {', '.join(extra)} option "
                             "(a column mapping is for --format events).")
        dataset = LOADERS[fmt](path, on_error=on_error, **loader_kwargs)
        return self.import_dataset(dataset, progress)

    # -- training ----------------------------------------------------------------------
    def training_view(self) -> Interactions:
        """Every stored event but those of shoppers who withhold personalisation consent."""
        items = self.store.items()
        events = self.store.snapshot()
        withheld = self.store.withheld()
        if withheld:
            events = events[~events["user_id"].isin(withheld)]
        return Interactions.from_events(events,
                                        items=items if len(items) else None,
                                        weights=self.settings.behaviour_weights)

    def train(self, models: list[str] | None = None, params: dict[str, dict] | None = None,
              progress: Progress | None = None, activate: bool = True,
              engine: str | None = None) -> pd.DataFrame:
        """Fit the named models (default: settings.models, plus ``popular`` as the cold-start
        fallback) on a snapshot of the store, as one new model version, and serve them from
        it (``activate``). Models not named keep serving from their version. ``engine``
        ("local" or "spark"; default settings.training.engine) is where the models that have
        a Spark trainer fit. Returns fit cost and engine per model, with the version id in
        ``frame.attrs["version"]``."""
        names = list(dict.fromkeys([*(models or self.settings.models), "popular"]))
        for name in names:  # fail on a bad name or a missing extra before any work
            create(name)
        if (engine := engine or self.settings.training.engine) not in ("local", "spark"):
            raise ValueError(f"engine must be 'local' or 'spark'. Got {engine!r} instead.")
        started = time.time()  # deletions before this are not in the view
        view = self.training_view()
        if view.n_events == 0:
            raise NoData("The store holds no events: import some before training.")
        rows = []
        spark = SparkTrainer.from_settings(self.settings) if engine == "spark" else None

        def fit(save) -> None:
            for done, name in enumerate(names):
                if progress:
                    progress("train", done, len(names))
                chosen = self._params(name, params)
                model = create(name, **chosen)
                on = "spark" if spark is not None and spark.can_fit(name) else "local"
                with measure() as cost:
                    spark.fit(model, view) if on == "spark" else model.fit(view)
                save(name, model, {"fit_s": cost.seconds, "peak_mb": cost.peak_mb, "params": chosen, "engine": on})
                rows.append({"model": name, "fit_s": cost.seconds, "peak_mb": cost.peak_mb, "engine": on})
            if progress:
                progress("train", len(names), len(names))

        try:
            version = self.versions.write(view, fit, started=started)
        finally:
            if spark is not None:
                spark.close()  # stops the session and deletes the run's Parquet copy of the events
        if activate:
            self.versions.activate(version)
        self.forgetting.settle(version)
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

    # -- serving --------------------------------------------------------------------
    def recommend(self, user_id: str, n: int = 10, model: str | None = None, exclude_seen: bool = True,
                  *, exclude_types: list[str] | None = None, rules=None, diversity: float | None = None,
                  explore: bool | None = None, context: Context | None = None, log: bool = True) -> ServedList:
        """Top-``n`` for one shopper from their events as they are in the store now (the last
        event counts before the next retrain; a new shopper is personalised from their first
        event; one with nothing to go on gets popular items in ``context``). Options default
        to the shop's settings: ``exclude_types`` (behaviours whose items are not shown again;
        ``exclude_seen=False``: none), ``rules`` over ``settings.rules``, ``diversity`` (MMR
        lambda), ``explore`` (the bandit's slot). The answer is a list of ``Recommendation``
        with its ``recommendation_id``, written to the impression log unless ``log`` is False."""
        return self.pipeline.recommend(str(user_id), ListRequest(
            n=n, model=model, exclude_seen=exclude_seen, exclude_types=exclude_types, rules=rules,
            diversity=diversity, explore=explore, context=context, log=log))

    def recommend_session(self, item_ids: list[str], types: list[str], times, n: int = 10,
                          model: str | None = None, **options) -> ServedList:
        """Top-``n`` for an anonymous shopper given by their events (item ids, behaviour names,
        Unix times (k,), oldest first), served as a known shopper with those events would be;
        ``options`` as for ``recommend``."""
        return self.pipeline.recommend_events(item_ids, types, times, ListRequest(n=n, model=model, **options))

    def popular(self, n: int = 10, rules=None) -> ServedList:
        """The shop's top-``n`` by the ``popular`` model, under the rules: the cold-start list."""
        return self.pipeline.popular(n, rules)

    def similar(self, item_id: str, n: int = 10, model: str | None = None, rules=None) -> ServedList:
        return self.pipeline.similar(item_id, n, model, rules)

    def explain(self, user_id: str, item_id: str, model: str | None = None, **options) -> list[str]:
        """Why ``item_id`` is, or is not, in the list ``recommend`` serves this shopper now
        (same events, same model version, same options)."""
        return self._serving()[1].explain(str(user_id), str(item_id), ListRequest(model=model, **options))

    def upsert_items(self, items) -> int:
        """Store catalogue entries; stock changes bind the next list any process serves."""
        n = self.store.upsert_items(items)
        self.online.catalogue_changed()
        self.pipeline.source.catalogue_changed()
        self.portraits.catalogue_changed()
        return n

    def upsert_users(self, users) -> int:
        """Store shoppers' profiles; a consent change binds their next list in every process
        sharing the online state (their cached lists are voided), and one who withholds
        consent loses their portrait at once."""
        n = self.store.upsert_users(users)
        frame = users if isinstance(users, pd.DataFrame) else pd.DataFrame(
            [u.model_dump() if hasattr(u, "model_dump") else dict(u) for u in users])
        self.portraits.consent_changed(frame)
        ids = frame["user_id"].astype(str).tolist() if len(frame) else []
        self.online.accept([(u, None, 0.0) for u in ids], None, False)  # new generation: no cached list
        return n

    def profile(self, user_id: str) -> dict:
        """The shopper's portrait now (``shelfwise.profiles.portrait``), with their segment
        when the shop has been segmented. ``UnknownId`` without events or consent."""
        return self.portraits.get(str(user_id))

    def segment(self, **params):
        """K-means segments of the shoppers' portraits, k chosen by the seed's Davies-Bouldin
        index (``shelfwise.profiles.segments.segment``'s parameters); kept for ``segments``."""
        return self.portraits.segment(**params)

    def segments(self):
        """The kept segmentation, or None before ``segment`` has run."""
        return self.portraits.segmentation()

    def _load(self, name: str | None) -> tuple[Recommender, Interactions]:
        """The serving model called ``name`` (default: settings.default_model) and the training
        view it was fitted on. A version activated by another process serves at once."""
        return self.versions.load(name or self.settings.default_model)

    def trained_models(self) -> list[str]:
        return sorted(self.versions.active())

    # -- privacy -----------------------------------------------------------------------
    @property
    def forgetting(self) -> Forgetting:
        """Forgetting shoppers everywhere (``privacy.forgetting``): built once, on first use."""
        if self._forgetting is None:
            self._forgetting = Forgetting(self.store, self.versions)
        return self._forgetting

    def forget_user(self, user_id: str, by: str = "python") -> DeletionReport:
        """Forget a shopper (``privacy.forgetting``): at once, their rows leave the store, every
        kept version's files are rewritten without them (count-based models exactly, the others
        without the shopper's own rows), no process serves them from a model it loaded, and the
        online state (in every process sharing it) drops them; the next training run of every
        serving model completes it, deleting the versions it does not serve.
        ``by`` names who asked, for the audit row."""
        report = self.forgetting.forget(str(user_id), by=by)
        self.online.forget(str(user_id))
        return report

    def privacy(self) -> dict:
        """Consent as stored and the deletions waiting and done (``privacy.report``)."""
        return privacy_report(self.store, self.forgetting, self.settings, public=self.pipeline.published.public)

    # -- evaluation ----------------------------------------------------------------------
    def evaluate(self, models: list[str] | None = None, protocol: str = "loo-item",
                 report_dir: str | Path | None = None, params: dict[str, dict] | None = None,
                 progress: Callable[[str], None] | None = None, by_segment: bool = False) -> pd.DataFrame:
        """Offline evaluation on the store (``evaluation.shop.evaluate_shop``): split, fit each
        model on the train part as ``train`` builds it (tuned parameters, then ``params``),
        score full-ranking top-K lists. protocol: "loo-item" (last new item per shopper),
        "loo" (last event) or "temporal" (last 20% of time). ``frame.attrs["fairness"]``:
        exposure Gini, brand gap and NDCG@10 per activity tertile per model. ``by_segment``:
        ``frame.attrs["by_segment"]`` holds NDCG@10 per shopper segment."""
        return evaluate_shop(self.store.snapshot(), self.store.items(), self.settings.behaviour_weights,
                             models or list(self.settings.models), lambda name, p: self._served_model(name, p),
                             protocol=protocol, params=params, report_dir=report_dir, progress=progress,
                             by_segment=self.portraits.ndcg_by_segment if by_segment else None)

    def _params(self, name: str, params: dict[str, dict] | None) -> dict:
        """The parameters ``train`` gives model ``name``: the shop's tuned ones, then
        ``settings.model_params``, then the call's own (each over the one before)."""
        return {**tuned_params(self.tuned_dir, name), **self.settings.model_params.get(name, {}),
                **(params or {}).get(name, {})}

    def _served_model(self, name: str, params: dict[str, dict] | None) -> Recommender:
        """An unfitted model with the parameters ``train`` gives it."""
        return create(name, **self._params(name, params))
