"""Precision marketing as the Engine composes it: propensity models kept per (category, days),
audiences, campaigns. Reads the store and the portraits; fits only when asked (a batch job)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from shelfwise.config import Settings
from shelfwise.data.interactions import Interactions
from shelfwise.errors import NoData, NotTrained
from shelfwise.marketing.audiences import audience, target_items
from shelfwise.marketing.propensity import PropensityModel, fit_propensity, score
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
                 n: int = 100, model: str | None = None, exclude_purchased: bool = True) -> pd.DataFrame:
        """The ``n`` consenting shoppers most likely to engage with the target (one or more
        items, a brand or a category), by the serving model ``model`` (default: the shop's
        default model): columns user_id, score, rank (``marketing.audiences``)."""
        field, ids = target_items(self.portraits.catalogue, items, brand, category)
        fitted, view = self.load(model or self.settings.default_model)
        return audience(fitted, view, ids, n, field=field, exclude_purchased=exclude_purchased,
                        withheld=self.store.withheld())


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
