"""Segmentation: K-means over prepared portraits, k chosen by the seed study's Davies-Bouldin index.

The seed's index (its formulas (1) and (2)) measures a cluster's spread by the MEAN PAIRWISE
DISTANCE of its members, not scikit-learn's mean distance to the centroid:

    avg(C)  = 2 / (|C| (|C| - 1)) * sum_{i < j in C} ||x_i - x_j||          (0 for |C| = 1)
    DB      = (1 / k) * sum_i max_{j != i} (avg(C_i) + avg(C_j)) / ||mu_i - mu_j||

Lower is better; k is the one of the range with the lowest DB. scikit-learn's
``davies_bouldin_score`` and the silhouette are reported beside it. A cluster of more than
``max_pairs_points`` shoppers has avg(C) estimated on a seeded sample of that many (the mean
over a random sample of pairs is unbiased; 2,000 points are 2 million pairs).

Each segment is named by the (at most two) prepared features whose centroid lies furthest
from the mean over all shoppers, e.g. "high Beauty affinity, low recency_days".
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shelfwise.errors import MissingExtra, NoData
from shelfwise.profiles.features import FeaturePrep


def _sklearn():
    try:
        from sklearn.cluster import KMeans
        from sklearn.metrics import davies_bouldin_score, silhouette_score
    except ImportError as exc:  # pragma: no cover - the extra is part of `all`
        raise MissingExtra("segmentation", "marketing", ["scikit-learn"]) from exc
    return KMeans, davies_bouldin_score, silhouette_score


def mean_pairwise_distance(X: np.ndarray, max_points: int = 2000, seed: int = 0) -> float:
    """avg(C) of the seed's formula: the mean Euclidean distance over the pairs of rows of X
    (n, d); 0 for fewer than 2 rows; a seeded sample of ``max_points`` rows above that."""
    n = len(X)
    if n < 2:
        return 0.0
    if n > max_points:
        X = X[np.random.default_rng(seed).choice(n, max_points, replace=False)]
        n = max_points
    total = 0.0
    sq = (X * X).sum(axis=1)
    for start in range(0, n, 512):  # blocks of rows keep memory at 512 x n
        block = X[start:start + 512]
        d2 = sq[start:start + 512, None] + sq[None, :] - 2.0 * block @ X.T
        total += np.sqrt(np.maximum(d2, 0.0)).sum()
    return float(total / (n * (n - 1)))  # every pair counted twice, the diagonal is 0


def seed_davies_bouldin(X: np.ndarray, labels: np.ndarray, max_points: int = 2000, seed: int = 0) -> float:
    """The seed's Davies-Bouldin index of a clustering (see the module docstring). X (n, d),
    labels (n,) ints; needs at least 2 clusters."""
    ids = np.unique(labels)
    if len(ids) < 2:
        raise ValueError(f"the Davies-Bouldin index needs at least 2 clusters, got {len(ids)}")
    spread = np.array([mean_pairwise_distance(X[labels == c], max_points, seed) for c in ids])
    mu = np.stack([X[labels == c].mean(axis=0) for c in ids])
    apart = np.sqrt(((mu[:, None, :] - mu[None, :, :]) ** 2).sum(-1))
    with np.errstate(divide="ignore", invalid="ignore"):  # the diagonal (0 / 0) is masked next
        ratio = (spread[:, None] + spread[None, :]) / apart
    np.fill_diagonal(ratio, -np.inf)
    return float(ratio.max(axis=1).mean())


@dataclass
class Segmentation:
    """A fitted segmentation, JSON-ready (``to_dict`` / ``from_dict``)."""

    k: int
    candidates: list[dict]  # per k tried: k, seed_db, sklearn_db, silhouette
    prep: dict  # FeaturePrep.to_dict()
    centroids: list[list[float]]  # (k, n_prepared) in the prepared [0, 1] space
    segments: list[dict]  # per segment: id, name, size, share, profile (raw feature means)
    as_of: float
    n_shoppers: int
    created_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Segmentation:
        return cls(**state)

    def assign(self, features: pd.DataFrame) -> np.ndarray:
        """Segment ids (n,) of shoppers given by their portrait features (``feature_frame``):
        the nearest centroid in the prepared space, so a shopper's segment follows their
        portrait as it changes."""
        X = FeaturePrep.from_dict(self.prep).transform(features)
        C = np.asarray(self.centroids)
        return ((X[:, None, :] - C[None, :, :]) ** 2).sum(-1).argmin(axis=1)


def _label(name: str) -> str:
    return f"{name[4:]} affinity" if name.startswith("top:") else name


def name_segments(centroids: np.ndarray, X: np.ndarray, columns: list[str]) -> list[str]:
    """Per centroid (k, f): its two features furthest from the mean of X (n, f), "high"/"low"."""
    mean = X.mean(axis=0)
    names = []
    for c in centroids:
        gap = c - mean
        top = np.argsort(-np.abs(gap), kind="stable")[:2]
        names.append(", ".join(f"{'high' if gap[j] > 0 else 'low'} {_label(columns[j])}"
                               for j in top if abs(gap[j]) > 1e-9) or "typical")
    return names


def segment(features: pd.DataFrame, *, k_range: tuple[int, int] = (2, 10), threshold: float = 0.8,
            mode: str = "merge", n_init: int = 4, seed: int = 0, max_pairs_points: int = 2000,
            silhouette_sample: int = 5000, as_of: float = 0.0) -> Segmentation:
    """Prepare ``features`` (shoppers x portrait features), run K-means for every k in
    ``k_range`` (inclusive), keep the k with the lowest seed Davies-Bouldin index."""
    KMeans, sk_db, silhouette = _sklearn()
    lo, hi = k_range
    if not 2 <= lo <= hi:
        raise ValueError(f"k_range must be two ints 2 <= low <= high, got {k_range!r}")
    if len(features) <= hi:
        raise NoData(f"segmenting into up to {hi} segments needs more than {hi} shoppers with a "
                     f"portrait; the store has {len(features)}")
    prep = FeaturePrep(threshold=threshold, mode=mode).fit(features)
    X = prep.transform(features)
    candidates, fits = [], {}
    for k in range(lo, hi + 1):
        km = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(X)
        labels = km.labels_
        if len(np.unique(labels)) < 2:
            continue
        sample = min(silhouette_sample, len(X))
        candidates.append({"k": k, "seed_db": seed_davies_bouldin(X, labels, max_pairs_points, seed),
                           "sklearn_db": float(sk_db(X, labels)),
                           "silhouette": float(silhouette(X, labels, sample_size=sample, random_state=seed))})
        fits[k] = km
    if not candidates:
        raise NoData("every k of the range gave a single cluster: the portraits are all alike")
    best = min(candidates, key=lambda c: (c["seed_db"], c["k"]))
    km = fits[best["k"]]
    names = name_segments(km.cluster_centers_, X, prep.columns_)
    sizes = np.bincount(km.labels_, minlength=best["k"])
    raw = features.groupby(km.labels_).mean()
    segments = [{"id": int(s), "name": names[s], "size": int(sizes[s]), "share": round(sizes[s] / len(X), 4),
                 "profile": {c: round(float(v), 4) for c, v in raw.loc[s].items()}}
                for s in range(best["k"])]
    return Segmentation(k=best["k"], candidates=candidates, prep=prep.to_dict(),
                        centroids=km.cluster_centers_.tolist(), segments=segments, as_of=as_of,
                        n_shoppers=len(X))
