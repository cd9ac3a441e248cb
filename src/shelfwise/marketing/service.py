"""Precision marketing as the Engine composes it: propensity models kept per (category, days),
audiences, campaigns. Reads the store and the portraits; fits only when asked (a batch job)."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from shelfwise.config import Settings
from shelfwise.data.interactions import Interactions
from shelfwise.errors import NoData, NotTrained, UnknownId
from shelfwise.marketing.audiences import audience, target_items, view_activity
from shelfwise.marketing.campaigns import evaluate, rule_audience, split_arms
from shelfwise.marketing.propensity import PropensityModel, fit_propensity, in_category, score
from shelfwise.models import Recommender
from shelfwise.profiles import Portraits
from shelfwise.store.base import EventStore


def _slug(category: str, days: float) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "-", category).strip("-").lower() + f"-{days:g}d"


def _write_json(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)  # atomic: readers see the old file or the new one


class Marketing:
    """load: name -> (fitted model, its training view), the Engine's serving models."""

    def __init__(self, store: EventStore, settings: Settings, portraits: Portraits,
                 load: Callable[[str], tuple[Recommender, Interactions]]):
        self.store, self.settings, self.portraits, self.load = store, settings, portraits, load
        self._activity: tuple[Interactions, object] | None = None  # (view, its shoppers' activity)

    @property
    def folder(self) -> Path:
        return Path(self.settings.home) / "marketing"

    def events(self) -> pd.DataFrame:
        """The store's events of consenting shoppers."""
        events = self.store.snapshot()
        if len(events) == 0:
            raise NoData("The store holds no events: import some first.")
        withheld = self.store.withheld(events["user_id"].unique().tolist())
        return events[~events["user_id"].isin(withheld)] if withheld else events

    # -- propensity ------------------------------------------------------------------------
    def fit_propensity(self, category: str, days: float = 30.0, seed: int = 0) -> PropensityModel:
        """Fit, check on the temporal hold-out and keep the model for (category, days)."""
        model = fit_propensity(self.events(), self.portraits.catalogue, self.settings, category, days, seed)
        path = self.folder / "propensity" / f"{_slug(category, days)}.json"
        _write_json(path, model.to_dict())
        _reliability_plot(model, path.with_suffix(".png"))
        return model

    def propensity_model(self, category: str, days: float = 30.0) -> PropensityModel:
        path = self.folder / "propensity" / f"{_slug(category, days)}.json"
        if not path.exists():
            raise NotTrained(f"no propensity model for {category!r} over {days:g} days: "
                             f"run shelfwise propensity {category!r} --days {days:g}")
        return PropensityModel.from_dict(json.loads(path.read_text()))

    def propensity_scores(self, category: str, days: float = 30.0) -> pd.Series:
        """Every consenting shopper's calibrated propensity now, highest first."""
        return score(self.propensity_model(category, days), self.events(), self.portraits.catalogue, self.settings)

    # -- audiences -------------------------------------------------------------------------
    def audience(self, items: list[str] | None = None, brand: str | None = None, category: str | None = None,
                 n: int = 100, model: str | None = None, exclude_purchased: bool = True,
                 rank_by: str = "engagement") -> pd.DataFrame:
        """The ``n`` consenting shoppers most likely to engage with the target (one or more
        items, a brand or a category), by the serving model ``model`` (default: the shop's
        default model), ranked by ``engagement`` (affinity times recent activity) or
        ``affinity``: columns user_id, score, rank (``marketing.audiences``)."""
        if rank_by not in ("engagement", "affinity"):
            raise ValueError(f"rank_by must be 'engagement' or 'affinity', got {rank_by!r}")
        field, ids = target_items(self.portraits.catalogue, items, brand, category)
        fitted, view = self.load(model or self.settings.default_model)
        activity = None
        if rank_by == "engagement":
            if self._activity is None or self._activity[0] is not view:  # once per model version
                self._activity = (view, view_activity(view, self.settings.profiles.activity_half_life_days))
            activity = self._activity[1]
        return audience(fitted, view, ids, n, field=field, exclude_purchased=exclude_purchased,
                        withheld=self.store.withheld(), activity=activity)

    # -- campaigns ---------------------------------------------------------------------------
    def _ranked(self, spec: dict) -> tuple[list[str], set[str] | None]:
        """(the audience ranked, the items a conversion must be of or None for any purchase)."""
        kind = [k for k in ("segment", "items", "brand", "category", "propensity", "rule") if spec.get(k) is not None]
        if len(kind) != 1:
            raise ValueError("audience: give exactly one of segment, items, brand, category, propensity, rule")
        kind = kind[0]
        if kind in ("items", "brand", "category"):
            frame = self.audience(items=spec.get("items"), brand=spec.get("brand"), category=spec.get("category"),
                                  n=10_000_000, model=spec.get("model"))
            return frame["user_id"].tolist(), set(target_items(self.portraits.catalogue, spec.get("items"),
                                                               spec.get("brand"), spec.get("category"))[1])
        if kind == "propensity":
            p = spec["propensity"]
            scores = self.propensity_scores(p["category"], float(p.get("days", 30)))
            return scores.index.astype(str).tolist(), in_category(self.portraits.catalogue, p["category"])
        features = self.portraits.features()
        if kind == "rule":
            return rule_audience(features, spec["rule"]), None
        seg = self.portraits.segmentation()
        if seg is None:
            raise NoData("audience.segment: the shop has no segments yet: run shelfwise segments --fit")
        if not 0 <= int(spec["segment"]) < seg.k:
            raise UnknownId(f"audience.segment: no segment {spec['segment']}; the shop has 0..{seg.k - 1}")
        inside = features[seg.assign(features) == int(spec["segment"])]
        return inside.sort_values("activity", ascending=False, kind="stable").index.astype(str).tolist(), None

    def create_campaign(self, name: str, audience: dict, budget: int, control_share: float = 0.2,
                        days: float | None = None, seed: int = 0, start: float | None = None) -> dict:
        """Plan a campaign (``marketing.campaigns``) and store it; returns its record with the
        arms' sizes. ``start`` defaults to now."""
        if budget < 1 or not 0 < control_share < 1:
            raise ValueError("budget must be >= 1 and control_share in (0, 1)")
        ranked, items = self._ranked(audience)
        if len(ranked) < 2:
            raise NoData(f"audience: only {len(ranked)} shopper(s) match: no room for a control")
        members = split_arms(ranked, budget, control_share, seed)
        cid = uuid.uuid4().hex[:16]
        spec = {"audience": audience, "budget": budget, "control_share": control_share, "days": days, "seed": seed,
                "items": sorted(items) if items is not None else None}
        created = time.time() if start is None else float(start)
        self.store.create_campaign(cid, name, created, spec, members)
        return {"campaign_id": cid, "name": name, "created_at": created,
                "treatment": sum(a == "treatment" for _, a, _ in members),
                "control": sum(a == "control" for _, a, _ in members)}

    def campaign(self, campaign_id: str, level: float = 0.95) -> dict:
        """The campaign's record and its result so far (``campaigns.evaluate``)."""
        record = self.store.campaign(campaign_id)
        if record is None:
            raise UnknownId(f"campaign {campaign_id} does not exist")
        spec = record["spec"]
        members = self.store.campaign_members(campaign_id)
        events = self.store.events_since(record["created_at"])
        items = set(spec["items"]) if spec.get("items") is not None else None
        result = evaluate(members, events, self.portraits.catalogue, record["created_at"], spec.get("days"), items,
                          level)
        return {**record, "spec": {k: v for k, v in spec.items() if k != "items"}, **result}

    def campaign_members(self, campaign_id: str, arm: str | None = "treatment") -> pd.DataFrame:
        if self.store.campaign(campaign_id) is None:
            raise UnknownId(f"campaign {campaign_id} does not exist")
        members = self.store.campaign_members(campaign_id)
        return members if arm is None else members[members["arm"] == arm]


def _reliability_plot(model: PropensityModel, path: Path) -> None:
    """Predicted against observed purchase rate per decile of prediction on the hold-out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = model.report
    pts = r["reliability"]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    top = max(max(p["predicted"] for p in pts), max(p["observed"] for p in pts), 1e-3)
    ax.plot([0, top], [0, top], color="grey", lw=0.8)
    ax.plot([p["predicted"] for p in pts], [p["observed"] for p in pts], "o-")
    ax.set_xlabel("predicted (calibrated)")
    ax.set_ylabel("observed on the hold-out")
    ax.set_title(f"{model.category}, {model.days:g} days: AUC {r['auc']:.3f}, Brier {r['brier']:.4f}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
