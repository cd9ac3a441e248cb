"""Portraits kept current as events are accepted: the part the Engine composes.

    portraits = Portraits(store, settings)
    portraits.accepted(rows)          # every ingest path, after the rows are durable
    portraits.get("U000042")          # the portrait as of the newest event in the store
    portraits.features()              # numeric features of every shopper (segmentation)

A shopper whose stored profile withholds consent (``User.consent`` false) gets no
aggregates, and ``get`` refuses them; withdrawing consent clears what was kept.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from shelfwise.config import Settings
from shelfwise.errors import NoData, UnknownId
from shelfwise.evaluation.metrics import per_user
from shelfwise.profiles.aggregates import CatalogueIndex, batch_aggregates
from shelfwise.profiles.portrait import feature_frame, portrait
from shelfwise.profiles.segments import Segmentation, segment
from shelfwise.store.base import EventStore
from shelfwise.store.portraits import STAT_COLUMNS

REBUILD_ROWS = 200_000  # events per rebuild step: memory stays bounded on a large log


def features_from_events(events: pd.DataFrame, catalogue: CatalogueIndex, settings: Settings,
                         as_of: float) -> pd.DataFrame:
    """Portrait features (``portrait.feature_frame``) of the shoppers in an event frame, from
    their events before ``as_of`` only, computed in memory by the same aggregation the store
    keeps: the portraits the shop would have shown at that time (for training on the past)."""
    p = settings.profiles
    past = events[events["timestamp"] < as_of]
    cols = [c for c in ("user_id", "item_id", "event_type", "timestamp", "value", "context") if c in past]
    agg = batch_aggregates(past[cols].to_dict("records"), catalogue, settings.behaviour_weights,
                           affinity_half_life_days=p.affinity_half_life_days,
                           activity_half_life_days=p.activity_half_life_days, tz=p.timezone)
    stats = pd.DataFrame(agg.stats, columns=list(STAT_COLUMNS))
    counts = pd.DataFrame(agg.counts, columns=["user_id", "kind", "key", "value"])
    for col in ("first_ts", "last_ts", "spend", "last_purchase_ts", "activity", "rel_bought_sum", "rel_viewed_sum"):
        stats[col] = pd.to_numeric(stats[col]).astype("float64")
    return feature_frame(stats, counts, as_of, p)


class NoConsent(UnknownId):
    """A shopper who has not consented to personalisation: no portrait is kept."""


class Portraits:
    def __init__(self, store: EventStore, settings: Settings):
        self.store, self.settings = store, settings
        self._catalogue: CatalogueIndex | None = None
        self._lock = threading.Lock()
        self._segmentation: tuple[float, Segmentation] | None = None  # (file mtime, fitted)

    @property
    def segments_dir(self) -> Path:
        return Path(self.settings.home) / "segments"

    @property
    def catalogue(self) -> CatalogueIndex:
        """Item -> category, brand, price, relative price; rebuilt after a catalogue change."""
        if self._catalogue is None:
            with self._lock:
                if self._catalogue is None:
                    self._catalogue = CatalogueIndex.from_items(self.store.items(),
                                                                self.settings.profiles.category_depth)
        return self._catalogue

    def catalogue_changed(self) -> None:
        self._catalogue = None

    def accepted(self, rows: list[dict], counted: bool = True) -> None:
        """Add stored event rows to their shoppers' portraits. ``counted`` False (a partly
        re-sent batch: which rows are new is not known): the shoppers in it are rebuilt from
        their events in the store instead, which is exact either way."""
        p = self.settings.profiles
        if not p.enabled or not rows:
            return
        users = list(dict.fromkeys(str(r["user_id"]) for r in rows))
        if not counted:
            self.rebuild(users)
            return
        withheld = self.store.withheld(users)
        if withheld:
            rows = [r for r in rows if str(r["user_id"]) not in withheld]
        self._add(rows, [u for u in users if u not in withheld], transitions=True)

    def _add(self, rows: list[dict], users: list[str], transitions: bool) -> None:
        p, cat = self.settings.profiles, self.catalogue
        previous = self.store.last_categories(users) if cat.category and transitions else {}
        agg = batch_aggregates(rows, cat, self.settings.behaviour_weights,
                               affinity_half_life_days=p.affinity_half_life_days,
                               activity_half_life_days=p.activity_half_life_days, tz=p.timezone,
                               previous=previous)
        self.store.add_portrait_aggregates(agg.stats, agg.counts, agg.transitions if transitions else [])

    def rebuild(self, user_ids: list[str] | None = None) -> int:
        """Recompute portraits from the log: every shopper's (None; the shop's category
        transitions too) or the named ones'. Returns how many shoppers have a portrait after."""
        self.catalogue_changed()
        if user_ids is None:
            self.store.clear_portraits(None)
            events = self.store.snapshot()
            withheld = self.store.withheld(events["user_id"].unique().tolist()) if len(events) else set()
            events = events[~events["user_id"].isin(withheld)]
            # by shopper, then time: each shopper's transitions are counted inside one step
            events = events.sort_values(["user_id", "timestamp"], kind="stable")
            cols = ["user_id", "item_id", "event_type", "timestamp", "value", "context"]
            start = 0
            while start < len(events):
                stop = min(start + REBUILD_ROWS, len(events))
                last = events["user_id"].iloc[stop - 1]
                while stop < len(events) and events["user_id"].iloc[stop] == last:
                    stop += 1
                part = events.iloc[start:stop]
                self._add(part[cols].to_dict("records"), [], transitions=True)
                start = stop
            return len(self.store.portrait_aggregates()[0])
        users = [str(u) for u in user_ids]
        self.store.clear_portraits(users)
        keep = [u for u in users if u not in self.store.withheld(users)]
        for user in keep:
            hist = self.store.user_history(user)
            if len(hist):  # the shop's transitions already hold this shopper's: not added again
                self._add(hist.to_dict("records"), [user], transitions=False)
        return len(keep)

    def as_of(self, as_of: float | None = None) -> float:
        if as_of is not None:
            return float(as_of)
        newest = self.store.newest_event_time()
        return 0.0 if newest is None else newest

    def get(self, user_id: str, as_of: float | None = None) -> dict:
        """The shopper's portrait (a JSON-ready dict, see ``profiles.portrait``). Raises
        ``NoConsent`` for a shopper who withholds consent, ``UnknownId`` for one with no events."""
        user = str(user_id)
        if self.store.withheld([user]):
            raise NoConsent(f"shopper {user} has not consented to personalisation: no portrait is kept")
        stats, counts = self.store.portrait_aggregates([user])
        if len(stats) == 0:
            raise UnknownId(f"shopper {user} has no events: no portrait yet")
        when = self.as_of(as_of)
        out = portrait(stats.iloc[0].to_dict(), counts, self.store.category_transitions(), when,
                       self.settings.profiles)
        out["segment"] = self.segment_of(user, when)
        return out

    def features(self, as_of: float | None = None) -> pd.DataFrame:
        """Numeric portrait features of every consenting shopper (``portrait.feature_frame``)."""
        stats, counts = self.store.portrait_aggregates()
        if len(stats):
            withheld = self.store.withheld(stats["user_id"].tolist())
            stats = stats[~stats["user_id"].isin(withheld)]
            counts = counts[~counts["user_id"].isin(withheld)]
        return feature_frame(stats, counts, self.as_of(as_of), self.settings.profiles)

    def consent_changed(self, users: pd.DataFrame) -> None:
        """After shopper profiles are stored: clear the portraits of those who withhold consent."""
        if users is None or len(users) == 0 or "consent" not in users:
            return
        withheld = users.loc[~users["consent"].fillna(True).astype(bool), "user_id"].astype(str).tolist()
        if withheld:
            self.store.clear_portraits(withheld)

    # -- segments ------------------------------------------------------------------------
    def segment(self, **params) -> Segmentation:
        """Segment every consenting shopper's portrait (``profiles.segments.segment``) and keep
        the result (``<home>/segments/segmentation.json``, a plot and a table beside it)."""
        from shelfwise.profiles.report import write_report

        features = self.features()
        seg = segment(features, as_of=self.as_of(), **params)
        self.segments_dir.mkdir(parents=True, exist_ok=True)
        path = self.segments_dir / "segmentation.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(seg.to_dict()))
        os.replace(tmp, path)  # atomic: a reader sees the old segmentation or the new one
        write_report(seg, self.segments_dir)
        return seg

    def segmentation(self) -> Segmentation | None:
        """The kept segmentation (re-read when another process has written a newer one)."""
        path = self.segments_dir / "segmentation.json"
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        if self._segmentation is None or self._segmentation[0] != mtime:
            self._segmentation = (mtime, Segmentation.from_dict(json.loads(path.read_text())))
        return self._segmentation[1]

    def segment_of(self, user_id: str, as_of: float | None = None) -> dict | None:
        """{id, name} of the segment nearest the shopper's portrait now; None without a
        segmentation or a portrait."""
        seg = self.segmentation()
        if seg is None:
            return None
        stats, counts = self.store.portrait_aggregates([str(user_id)])
        if len(stats) == 0:
            return None
        label = int(seg.assign(feature_frame(stats, counts, self.as_of(as_of), self.settings.profiles))[0])
        return {"id": label, "name": seg.segments[label]["name"]}

    def ndcg_by_segment(self, recs: dict[str, np.ndarray], user_ids: list[str], truth: list[np.ndarray],
                        k: int = 10) -> pd.DataFrame:
        """NDCG@k of each model's lists (``recs``: model -> (n, >= k) item indices, rows in
        ``user_ids`` order, relevant items in ``truth``) averaged per segment of the kept
        segmentation; shoppers without a portrait (or consent) fall in "(none)". Index: the
        segment's "id: name"; columns: shoppers, then one per model."""
        seg = self.segmentation()
        if seg is None:
            raise NoData("the shop has no segments yet: run shelfwise segments --fit")
        features = self.features()
        label = pd.Series([f"{s['id']}: {s['name']}" for s in seg.segments], dtype=object)
        of_user = pd.Series(label.to_numpy()[seg.assign(features)], index=features.index) if len(features) else \
            pd.Series(dtype=object)
        groups = of_user.reindex(user_ids).fillna("(none)").to_numpy()
        out = pd.DataFrame({"shoppers": pd.Series(groups).value_counts()})
        for model, lists in recs.items():
            ndcg = per_user(lists, truth, k)["ndcg"]
            out[f"ndcg@{k} {model}"] = pd.Series(ndcg).groupby(groups).mean()
        return out.sort_index()
