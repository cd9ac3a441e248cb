"""Purchase propensity: the probability that a shopper buys in category C within the next N days.

Examples are shoppers' portraits at a cutoff time t (``profiles.features_from_events``: their
events before t only) plus three features of C (their affinity share for C, purchases in C,
days since their last event in C); the label is a purchase in C during [t, t + N days).

    T = newest purchase;  training cutoff  t1 = T - 2N  (labels from [t1, t1 + N))
                          hold-out cutoff  t2 = T - N   (labels from [t2, T])

LightGBM (binary) is fitted on 75% of the training shoppers and calibrated by isotonic
regression on the other 25%; the hold-out is the next window in time, never seen in fitting,
and is scored by AUC, log loss and the Brier score beside the base rate (every shopper given
the training prevalence), with a reliability table (predicted against observed, per decile
of prediction). ``score`` refits nothing: it applies the model to portraits as of now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shelfwise.config import Settings
from shelfwise.errors import MissingExtra, NoData
from shelfwise.profiles import features_from_events
from shelfwise.profiles.aggregates import DAY, SEPARATOR, CatalogueIndex

LGB_PARAMS = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 20,
              "feature_fraction": 0.9, "bagging_fraction": 0.9, "bagging_freq": 1, "verbose": -1,
              "num_threads": 1}
ROUNDS = 200


def _libs():
    try:
        import lightgbm
        from sklearn.isotonic import IsotonicRegression
        from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
    except ImportError as exc:  # pragma: no cover - the extra is part of `all`
        raise MissingExtra("purchase propensity", "marketing", ["lightgbm", "scikit-learn"]) from exc
    return lightgbm, IsotonicRegression, (roc_auc_score, log_loss, brier_score_loss)


def in_category(catalogue: CatalogueIndex, category: str) -> set[str]:
    """Items whose category path is ``category`` or lies under it ("Beauty", "Beauty > Hair")."""
    return {i for i, c in catalogue.category.items() if c == category or c.startswith(category + SEPARATOR)}


def category_features(events: pd.DataFrame, items: set[str], weights: dict[str, float],
                      as_of: float) -> pd.DataFrame:
    """Per shopper with events before ``as_of``: cat_share (share of their behaviour weight
    on the category's items), cat_purchases, cat_days_since (days since their last event in
    it; the log's span when none). Index user_id."""
    past = events[events["timestamp"] < as_of]
    w = past["event_type"].map(weights).fillna(0.0)
    inside = past["item_id"].isin(items)
    by_user = pd.DataFrame({"user_id": past["user_id"], "w": w, "in_w": w.where(inside, 0.0),
                            "in_buy": (inside & (past["event_type"] == "purchase")).astype(float),
                            "in_t": past["timestamp"].where(inside)}).groupby("user_id")
    total = by_user["w"].sum()
    span = (as_of - float(past["timestamp"].min())) / DAY if len(past) else 0.0
    return pd.DataFrame({"cat_share": (by_user["in_w"].sum() / total.where(total > 0)).fillna(0.0),
                         "cat_purchases": by_user["in_buy"].sum(),
                         "cat_days_since": ((as_of - by_user["in_t"].max()) / DAY).fillna(span)})


def examples(events: pd.DataFrame, catalogue: CatalogueIndex, settings: Settings, items: set[str],
             cutoff: float, days: float) -> tuple[pd.DataFrame, pd.Series]:
    """(features, label) of every shopper with events before ``cutoff``; label: bought one of
    ``items`` in [cutoff, cutoff + days)."""
    X = features_from_events(events, catalogue, settings, cutoff)
    X = X.join(category_features(events, items, settings.behaviour_weights, cutoff))
    window = events[(events["timestamp"] >= cutoff) & (events["timestamp"] < cutoff + days * DAY)]
    buyers = set(window.loc[(window["event_type"] == "purchase") & window["item_id"].isin(items), "user_id"])
    return X, pd.Series(X.index.isin(list(buyers)), index=X.index)


@dataclass
class PropensityModel:
    category: str
    days: float
    features: list[str]
    booster: str  # LightGBM's model text
    iso_x: list[float]  # the isotonic calibration's breakpoints
    iso_y: list[float]
    report: dict[str, Any] = field(default_factory=dict)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities (n,) for feature rows (missing features count as 0)."""
        lightgbm, _, _ = _libs()
        booster = lightgbm.Booster(model_str=self.booster)
        raw = booster.predict(X.reindex(columns=self.features, fill_value=0.0).to_numpy(np.float64))
        return np.interp(raw, self.iso_x, self.iso_y)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("category", "days", "features", "booster", "iso_x", "iso_y", "report")}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> PropensityModel:
        return cls(**state)


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per decile of prediction: mean predicted, observed rate, shoppers (a reliability plot's points)."""
    order = np.argsort(p, kind="stable")
    out = []
    for part in np.array_split(order, bins):
        if len(part):
            out.append({"predicted": float(p[part].mean()), "observed": float(y[part].mean()), "n": len(part)})
    return out


def fit_propensity(events: pd.DataFrame, catalogue: CatalogueIndex, settings: Settings, category: str,
                   days: float = 30.0, seed: int = 0) -> PropensityModel:
    """Fit and check the model for ``category`` over the next ``days`` (see the module docstring).
    events: the store's snapshot (user_id, item_id, event_type, timestamp, ...)."""
    lightgbm, Isotonic, (auc, log_loss, brier) = _libs()
    if not days > 0:
        raise ValueError(f"days must be > 0, got {days!r}")
    items = in_category(catalogue, category)
    if not items:
        raise ValueError(f"category: no catalogue item is in {category!r}")
    # windows end at the newest purchase: a log's tail of later reviews or views holds no
    # purchase to learn from, and would make the hold-out window look like a slump
    buys = events.loc[events["event_type"] == "purchase", "timestamp"]
    newest = float(buys.max()) if len(buys) else float(events["timestamp"].max())
    t1, t2 = newest - 2 * days * DAY, newest - days * DAY
    if float(events["timestamp"].min()) >= t1:
        raise NoData(f"the log spans less than {2 * days:g} days before its newest event: "
                     f"no room for a training window and a hold-out window of {days:g} days")
    X1, y1 = examples(events, catalogue, settings, items, t1, days)
    X2, y2 = examples(events, catalogue, settings, items, t2, days)
    if y1.sum() < 10 or (~y1).sum() < 10 or y2.sum() < 1 or (~y2).sum() < 1:
        raise NoData(f"too few buyers (or non-buyers) of {category!r} in the windows to learn from: "
                     f"{int(y1.sum())} in training, {int(y2.sum())} in the hold-out")
    cols = list(X1.columns)
    rng = np.random.default_rng(seed)
    calib = rng.random(len(X1)) < 0.25
    # LightGBM refuses ":" in feature names ("top:Beauty"): it gets positions, we keep the names
    train = lightgbm.Dataset(X1[~calib].to_numpy(np.float64), y1[~calib].to_numpy(float))
    booster = lightgbm.train({**LGB_PARAMS, "seed": seed}, train, num_boost_round=ROUNDS)
    iso = Isotonic(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4)
    iso.fit(booster.predict(X1[calib].to_numpy(np.float64)), y1[calib].to_numpy(float))
    model = PropensityModel(category=category, days=float(days), features=cols, booster=booster.model_to_string(),
                            iso_x=iso.X_thresholds_.tolist(), iso_y=iso.y_thresholds_.tolist())
    p = model.predict(X2)
    y = y2.to_numpy(float)
    base = np.full(len(y), float(y1.mean()))
    model.report = {
        "category": category, "days": days, "train_cutoff": t1, "holdout_cutoff": t2,
        "train_shoppers": len(X1), "holdout_shoppers": len(X2),
        "train_rate": float(y1.mean()), "holdout_rate": float(y.mean()),
        "auc": float(auc(y, p)), "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier(y, p)), "base_log_loss": float(log_loss(y, base, labels=[0, 1])),
        "base_brier": float(brier(y, base)), "reliability": reliability(p, y)}
    return model


def score(model: PropensityModel, events: pd.DataFrame, catalogue: CatalogueIndex, settings: Settings,
          as_of: float | None = None) -> pd.Series:
    """Calibrated propensity of every shopper as of ``as_of`` (default: after the newest event),
    highest first. Index user_id."""
    when = float(events["timestamp"].max()) + 1e-3 if as_of is None else float(as_of)
    X, _ = examples(events, catalogue, settings, in_category(catalogue, model.category), when, 0.0)
    return pd.Series(model.predict(X), index=X.index, name="propensity").sort_values(ascending=False, kind="stable")
