"""Preprocessing steps, each reporting what it removed or changed.

Every step takes and returns frames and appends a ``StepReport``; ``preprocess`` runs a
sequence of them. Nothing is dropped silently: a row that leaves is counted in the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shelfwise.data.validation import RowError


@dataclass(frozen=True)
class StepReport:
    step: str
    rows_before: int
    rows_after: int
    changed: int = 0
    detail: str = ""

    @property
    def removed(self) -> int:
        return self.rows_before - self.rows_after


@dataclass
class PreprocessReport:
    steps: list[StepReport] = field(default_factory=list)
    malformed: list[RowError] = field(default_factory=list)

    def add(self, *args, **kwargs) -> None:
        self.steps.append(StepReport(*args, **kwargs))

    def lines(self) -> list[str]:
        out = [f"malformed rows: {len(self.malformed)}"
               + (f" (first at line {self.malformed[0].line})" if self.malformed else "")]
        for s in self.steps:
            out.append(f"{s.step}: {s.rows_before} -> {s.rows_after} rows"
                       f" ({s.removed} removed, {s.changed} changed){' - ' + s.detail if s.detail else ''}")
        return out


def drop_duplicates(events: pd.DataFrame, report: PreprocessReport) -> pd.DataFrame:
    """Exact duplicates: same user and event id (ids derive from content, so same content)."""
    out = events.drop_duplicates(["user_id", "event_id"], keep="first")
    report.add("drop_duplicates", len(events), len(out))
    return out


def k_core(events: pd.DataFrame, report: PreprocessReport, k_users: int = 5,
           k_items: int = 5) -> pd.DataFrame:
    """Keep users and items with at least ``k`` distinct partners, repeated to a fixed point
    (the 5-core of the Amazon benchmarks)."""
    ev = events
    rounds = 0
    while True:
        rounds += 1
        pairs = ev[["user_id", "item_id"]].drop_duplicates()
        u_ok = pairs["user_id"].map(pairs["user_id"].value_counts()) >= k_users
        i_ok = pairs["item_id"].map(pairs["item_id"].value_counts()) >= k_items
        good = pairs[u_ok & i_ok]
        if len(good) == len(pairs):
            break
        ev = ev[ev["user_id"].isin(good["user_id"]) & ev["item_id"].isin(good["item_id"])]
    report.add("k_core", len(events), len(ev),
               detail=f"k_users={k_users}, k_items={k_items}, {rounds} round(s)")
    return ev


def dwell_weights(events: pd.DataFrame, report: PreprocessReport, min_ms: float = 2000.0,
                  cap: float = 3.0) -> pd.DataFrame:
    """Weight views by dwell time (``value`` in ms): a ``weight`` column of
    log1p(dwell) / log1p(median dwell), clipped to [0, cap]; views under ``min_ms`` (bounces)
    get weight 0. Other events and views without a dwell keep weight 1."""
    out = events.copy()
    w = np.ones(len(out))
    is_view = (out["event_type"] == "view").to_numpy() & out["value"].notna().to_numpy()
    dwell = out["value"].to_numpy(dtype=np.float64)
    if is_view.any():
        med = np.median(dwell[is_view])
        w[is_view] = np.clip(np.log1p(dwell[is_view]) / np.log1p(max(med, 1.0)), 0, cap)
        w[is_view & (dwell < min_ms)] = 0.0
    prior = out["weight"].to_numpy(np.float64) if "weight" in out else 1.0
    out["weight"] = prior * w
    report.add("dwell_weights", len(events), len(out), changed=int(is_view.sum()),
               detail=f"{int((is_view & (dwell < min_ms)).sum())} bounces weighted 0")
    return out


def fill_item_attributes(items: pd.DataFrame, report: PreprocessReport) -> pd.DataFrame:
    """Fill missing catalogue fields: title from the id, brand "unknown", an empty category
    path, and a missing price with the median price of the item's top category."""
    out = items.copy()
    changed = 0
    for col, fill in (("title", None), ("brand", "unknown")):
        if col not in out:
            out[col] = None
        miss = out[col].isna() | (out[col].astype(str).str.strip() == "")
        changed += int(miss.sum())
        out.loc[miss, col] = out.loc[miss, "item_id"] if fill is None else fill
    if "category" not in out:
        out["category"] = [[] for _ in range(len(out))]
    out["category"] = out["category"].map(lambda c: c if isinstance(c, list) else [])
    if "price" in out:
        top = out["category"].map(lambda c: c[0] if c else "")
        med = out.groupby(top)["price"].transform("median").fillna(out["price"].median())
        miss = out["price"].isna()
        changed += int(miss.sum())
        out.loc[miss, "price"] = med[miss]
    report.add("fill_item_attributes", len(items), len(out), changed=changed)
    return out


def min_max(frame: pd.DataFrame, columns: list[str], report: PreprocessReport) -> pd.DataFrame:
    """Add ``<col>_scaled`` in [0, 1] for numeric columns (constant columns scale to 0)."""
    out = frame.copy()
    for col in columns:
        x = pd.to_numeric(out[col], errors="coerce")
        lo, hi = x.min(), x.max()
        out[f"{col}_scaled"] = 0.0 if not np.isfinite(hi - lo) or hi == lo else (x - lo) / (hi - lo)
    report.add("min_max", len(frame), len(out), changed=len(columns) * len(out),
               detail=", ".join(columns))
    return out


def preprocess(events: pd.DataFrame, items: pd.DataFrame | None = None, *,
               malformed: list[RowError] | None = None, k: int | None = None,
               dwell: bool = False) -> tuple[pd.DataFrame, pd.DataFrame | None, PreprocessReport]:
    """The standard chain: duplicates, optional k-core, optional dwell weighting; items get
    missing attributes filled and a scaled price. Returns (events, items, report)."""
    report = PreprocessReport(malformed=list(malformed or []))
    events = drop_duplicates(events, report)
    if k:
        events = k_core(events, report, k, k)
    if dwell:
        events = dwell_weights(events, report)
    if items is not None:
        items = fill_item_attributes(items, report)
        if "price" in items:
            items = min_max(items, ["price"], report)
    return events.reset_index(drop=True), items, report
