"""Portrait features prepared as the seed study does before clustering: correlation analysis
(its formula (3), Pearson's r) merges or drops redundant features, then min-max
normalisation (formula (4)) puts every feature in [0, 1].

    prep = FeaturePrep(threshold=0.8).fit(frame)      # frame: shoppers x features
    X = prep.transform(frame)                         # (n_shoppers, n_prepared) in [0, 1]
    prep.report_                                      # what each step changed, in words

(3)  r(x, y) = sum_i (x_i - mean x)(y_i - mean y) / sqrt(sum_i (x_i - mean x)^2 * sum_i (y_i - mean y)^2)
(4)  x' = (x - min x) / (max x - min x)

Pairs with |r| above the threshold are grouped, strongest pair first; a feature joins an
existing group only if it also passes the threshold with the group's first member. With ``mode="merge"`` a group
becomes one feature, the mean of its members each min-max normalised (a member correlated
negatively is flipped, 1 - x', so the members agree); with ``mode="drop"`` the group keeps
its first member. A constant feature carries nothing to cluster on and is dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

MODES = ("merge", "drop")


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Formula (3) for two vectors (n,); NaN when either is constant."""
    dx, dy = x - x.mean(), y - y.mean()
    den = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / den) if den > 0 else float("nan")


def correlation_matrix(X: np.ndarray) -> np.ndarray:
    """Formula (3) for every pair of columns of X (n, f): (f, f), NaN for constant columns."""
    D = X - X.mean(axis=0)
    norm = np.sqrt((D * D).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (D.T @ D) / np.outer(norm, norm)


def min_max(X: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Formula (4), column-wise; values outside the fitted range are clipped to [0, 1]."""
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.clip((X - lo) / span, 0.0, 1.0)


class FeaturePrep:
    """Correlation merge (or drop) and min-max normalisation, fitted on a shoppers x features frame."""

    def __init__(self, *, threshold: float = 0.8, mode: str = "merge"):
        self.threshold = threshold
        self.mode = mode

    def _check(self) -> None:
        if not isinstance(self.threshold, int | float) or not 0 < self.threshold <= 1:
            raise ValueError(f"The 'threshold' parameter of FeaturePrep must be a float in (0, 1]. "
                             f"Got {self.threshold!r} instead.")
        if self.mode not in MODES:
            raise ValueError(f"The 'mode' parameter of FeaturePrep must be one of {MODES}. Got {self.mode!r} instead.")

    def fit(self, frame: pd.DataFrame) -> FeaturePrep:
        self._check()
        if len(frame) < 2:
            raise ValueError(f"feature preparation needs at least 2 shoppers, got {len(frame)}")
        names = list(frame.columns)
        X = frame.to_numpy(np.float64)
        lo, hi = X.min(axis=0), X.max(axis=0)
        constant = [n for n, a, b in zip(names, lo, hi, strict=True) if not b > a]
        R = correlation_matrix(X)
        live = [k for k, n in enumerate(names) if n not in constant]
        pairs = sorted(((abs(R[a, b]), a, b) for i, a in enumerate(live) for b in live[i + 1:]
                        if abs(R[a, b]) > self.threshold), reverse=True)
        head_of: dict[int, int] = {}  # feature -> the first member of its group
        for _, a, b in pairs:
            if a not in head_of and b not in head_of:
                head_of[a] = head_of[b] = min(a, b)
            elif (a in head_of) != (b in head_of):
                inside, outside = (a, b) if a in head_of else (b, a)
                head = head_of[inside]
                if abs(R[head, outside]) > self.threshold:  # it must match the group's first too
                    head_of[outside] = head
        groups: dict[int, list[int]] = {}
        for k in live:
            groups.setdefault(head_of.get(k, k), []).append(k)
        self.features_in_ = names
        self.correlation_ = pd.DataFrame(R, index=names, columns=names)
        self.groups_ = [([names[m] for m in members],
                         [1.0 if m == head or R[head, m] >= 0 else -1.0 for m in members])
                        for head, members in sorted(groups.items())]
        self.in_lo_, self.in_hi_ = lo, hi
        combined = self._combine(X)
        self.lo_, self.hi_ = combined.min(axis=0), combined.max(axis=0)
        self.columns_ = ["+".join(m) if self.mode == "merge" else m[0] for m, _ in self.groups_]
        self.report_ = self._report(constant, R, names)
        return self

    def _combine(self, X: np.ndarray) -> np.ndarray:
        """The groups' features (n, g): each member min-max normalised, flipped when it
        correlates negatively with the group's first, averaged (``merge``) or the first kept."""
        Z = min_max(X, self.in_lo_, self.in_hi_)
        index = {n: k for k, n in enumerate(self.features_in_)}
        cols = []
        for members, signs in self.groups_:
            part = [Z[:, index[m]] if s > 0 else 1.0 - Z[:, index[m]] for m, s in zip(members, signs, strict=True)]
            cols.append(np.mean(part, axis=0) if self.mode == "merge" else part[0])
        return np.stack(cols, axis=1) if cols else np.zeros((len(X), 0))

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """(n_shoppers, len(columns_)) in [0, 1]; ``frame`` needs the fitted features (any extra
        column is ignored, a missing one counts as 0)."""
        X = frame.reindex(columns=self.features_in_, fill_value=0.0).to_numpy(np.float64)
        return min_max(self._combine(X), self.lo_, self.hi_)

    def fit_transform(self, frame: pd.DataFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    def _report(self, constant: list[str], R: np.ndarray, names: list[str]) -> list[str]:
        index = {n: k for k, n in enumerate(names)}
        lines = [f"correlation (formula 3): {len(names)} features, threshold |r| > {self.threshold}"]
        lines += [f"dropped {n}: constant over every shopper" for n in constant]
        for members, _ in self.groups_:
            if len(members) > 1:
                rs = ", ".join(f"{m} r={R[index[members[0]], index[m]]:+.3f}" for m in members[1:])
                verb = "merged into" if self.mode == "merge" else "dropped in favour of"
                target = "+".join(members) if self.mode == "merge" else members[0]
                lines.append(f"{verb} {target}: {members[0]} with {rs}")
        lines.append(f"min-max normalisation (formula 4): {len(self.columns_)} features scaled to [0, 1]")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fitted state (for a persisted segmentation)."""
        return {"threshold": self.threshold, "mode": self.mode, "features_in": self.features_in_,
                "groups": [[m, s] for m, s in self.groups_], "in_lo": self.in_lo_.tolist(),
                "in_hi": self.in_hi_.tolist(), "lo": self.lo_.tolist(), "hi": self.hi_.tolist(),
                "columns": self.columns_, "report": self.report_}

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> FeaturePrep:
        prep = cls(threshold=state["threshold"], mode=state["mode"])
        prep.features_in_ = list(state["features_in"])
        prep.groups_ = [(list(m), list(s)) for m, s in state["groups"]]
        prep.in_lo_, prep.in_hi_ = np.asarray(state["in_lo"]), np.asarray(state["in_hi"])
        prep.lo_, prep.hi_ = np.asarray(state["lo"]), np.asarray(state["hi"])
        prep.columns_, prep.report_ = list(state["columns"]), list(state["report"])
        return prep
