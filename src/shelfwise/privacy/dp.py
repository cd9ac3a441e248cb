"""Differentially private per-item counts: what the shop publishes about its shoppers.

The popular list's order and scores and the "popular this week (N shoppers)" words are counts
of shoppers per item. With ``privacy.dp_enabled`` they are released through OpenDP instead
of read exactly:

1. **contribution bounding**: each shopper counts once per item, and for at most
   ``max_items`` items (their most recent ones) in a release, so adding or removing one
   shopper changes at most ``max_items`` records of the (shopper, item) list;
2. **the mechanism**: OpenDP's ``make_count_by_categories`` over the catalogue's item ids
   (symmetric distance in, L1 out: sensitivity ``max_items``) chained with ``then_laplace``
   at scale = ``max_items / epsilon`` (the discrete Laplace on integer counts), so the
   measurement's ``map(max_items)`` is the release's ``epsilon``; every item, counted or not,
   gets noise;
3. **the budget** (``privacy.ledger.Ledger``): each release spends ``epsilon`` from a daily
   budget shared by every process through the store's database. A release is kept and
   served again for ``refresh_seconds``; once the day's budget is spent, the last released
   (noisy) counts are served until the next day, never fresh exact ones.

Negative noisy counts are clamped to 0 (post-processing: no privacy cost). The stated bound:
each item's noisy count differs from its bounded exact count by less than ``accuracy`` with
probability ``1 - alpha`` (OpenDP's ``discrete_laplacian_scale_to_accuracy``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shelfwise.errors import MissingExtra
from shelfwise.privacy.ledger import Ledger, StoredRelease

#: the windows of the two public counts, in days: "popular" (the popular list) is set by
#: ``privacy.dp_window_days``; "week" is the "popular this week" count of the reasons
WEEK_DAYS = 7.0
KINDS = ("popular", "week")


def _opendp():
    try:
        import opendp.prelude as dp
    except ImportError as exc:  # the extra is optional: the core install runs without it
        raise MissingExtra("privacy.dp_enabled", "privacy", ["opendp"]) from exc
    dp.enable_features("contrib")
    return dp


def bound_contributions(events: pd.DataFrame, max_items: int) -> pd.Series:
    """The item id of each kept (shopper, item) record: one per distinct pair, and at most
    ``max_items`` per shopper (their most recently touched items). events: user_id, item_id,
    timestamp. Returns str item ids (k,), k <= max_items * shoppers."""
    if max_items < 1:
        raise ValueError(f"max_items must be >= 1. Got {max_items} instead.")
    if len(events) == 0:
        return pd.Series([], dtype=object)
    last = (events.assign(user_id=events["user_id"].astype(str), item_id=events["item_id"].astype(str))
            .groupby(["user_id", "item_id"], sort=False)["timestamp"].max().reset_index())
    last = last.sort_values(["user_id", "timestamp", "item_id"], ascending=[True, False, True], kind="stable")
    kept = last[last.groupby("user_id", sort=False).cumcount() < max_items]
    return kept["item_id"].reset_index(drop=True)


def count_measurement(item_ids: list[str], max_items: int, epsilon: float):
    """(OpenDP measurement: list of item-id records -> noisy count per item of ``item_ids``,
    its Laplace scale). The records are those ``bound_contributions`` keeps."""
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0. Got {epsilon} instead.")
    dp = _opendp()
    space = dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance()
    scale = max_items / epsilon
    counts = dp.t.make_count_by_categories(*space, categories=list(item_ids), null_category=False, TOA=int)
    return counts >> dp.m.then_laplace(scale=scale), scale


def accuracy(scale: float, alpha: float) -> float:
    """|noisy - exact| < this with probability 1 - ``alpha``, per item (OpenDP)."""
    return float(_opendp().discrete_laplacian_scale_to_accuracy(scale=scale, alpha=alpha))


def noisy_counts(records: pd.Series, item_ids: list[str], max_items: int, epsilon: float,
                 alpha: float) -> tuple[np.ndarray, float, float]:
    """(int64 (len(item_ids),) noisy counts clamped at 0, Laplace scale, accuracy at ``alpha``)."""
    meas, scale = count_measurement(item_ids, max_items, epsilon)
    spent = float(meas.map(max_items))
    if spent > epsilon * (1 + 1e-9):  # the chain must cost what the budget was charged
        raise RuntimeError(f"OpenDP charges {spent} for a release budgeted at {epsilon}")
    raw = np.asarray(meas(records.astype(str).tolist()), dtype=np.int64)
    return np.maximum(raw, 0), scale, accuracy(scale, alpha)


@dataclass(frozen=True)
class Release:
    """One release of a public count: counts (n,) for item_ids (n,), what it cost and its bound."""

    kind: str
    item_ids: np.ndarray  # str (n,)
    counts: np.ndarray  # int64 (n,), noisy, >= 0
    epsilon: float
    scale: float
    accuracy: float  # |noisy - exact| < accuracy with probability 1 - alpha, per item
    alpha: float
    released_at: float
    period: str  # the UTC day whose budget paid for it

    def for_items(self, item_ids) -> np.ndarray:
        """float64 counts of ``item_ids`` (k,) as released; NaN for an item the release lacks."""
        index = pd.Index(self.item_ids)
        at = index.get_indexer(np.asarray(item_ids, dtype=object).astype(str))
        return np.where(at >= 0, self.counts[np.maximum(at, 0)].astype(np.float64), np.nan)

    @classmethod
    def stored(cls, row: StoredRelease) -> Release:
        return cls(row.kind, np.asarray(list(row.counts), dtype=object), np.asarray(list(row.counts.values()),
                   dtype=np.int64), row.epsilon, row.scale, row.accuracy, row.alpha, row.released_at, row.period)


def period_of(timestamp: float) -> str:
    """The UTC day of a Unix time: the budget's period."""
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


class PublicCounts:
    """The public counts of one shop under its privacy budget.

    ``store``: the event store (events read with ``events_since``; the ledger's tables live in
    its database); ``catalogue()``: the item ids to release counts for (str (n,)); ``clock``:
    Unix time now. ``release(kind)`` answers a ``Release`` or None (no budget was ever left
    for ``kind``)."""

    def __init__(self, store, settings, catalogue: Callable[[], list[str]],
                 clock: Callable[[], float] = time.time):
        self.store, self.settings, self.catalogue, self.clock = store, settings, catalogue, clock
        self.ledger = Ledger(store.engine)
        self._lock = threading.Lock()
        self._held: dict[str, Release] = {}
        self._retry_at: dict[str, float] = {}  # kind -> when to ask the ledger again

    @property
    def _p(self):
        return self.settings.privacy

    def window_days(self, kind: str) -> float:
        if kind not in KINDS:
            raise ValueError(f"Unknown public count {kind!r}: {', '.join(KINDS)}.")
        return WEEK_DAYS if kind == "week" else float(self._p.dp_window_days)

    def release(self, kind: str) -> Release | None:
        window = self.window_days(kind)
        now = self.clock()
        with self._lock:
            held = self._held.get(kind)
            if held is not None and (now - held.released_at < self._p.dp_refresh_seconds
                                     or now < self._retry_at.get(kind, 0.0)):
                return held
            stored = self.ledger.last(kind)  # another process may have released meanwhile
            if stored is not None and now - stored.released_at < self._p.dp_refresh_seconds:
                held = self._held[kind] = Release.stored(stored)
                return held
            period, epsilon = period_of(now), float(self._p.dp_epsilon_per_release)
            if not self.ledger.spend(period, epsilon, float(self._p.dp_epsilon_per_day)):
                # budget spent: the last noisy release serves until the next period
                self._retry_at[kind] = min(now + self._p.dp_refresh_seconds, _next_day(now))
                held = Release.stored(stored) if stored is not None else None
                if held is not None:
                    self._held[kind] = held
                return held
            item_ids = [str(i) for i in self.catalogue()]
            records = bound_contributions(self.store.events_since(now - window * 86400),
                                          int(self._p.dp_max_items_per_shopper))
            records = records[records.isin(set(item_ids))]
            counts, scale, acc = noisy_counts(records, item_ids, int(self._p.dp_max_items_per_shopper),
                                              epsilon, float(self._p.dp_alpha))
            held = Release(kind, np.asarray(item_ids, dtype=object), counts, epsilon, scale, acc,
                           float(self._p.dp_alpha), now, period)
            self.ledger.save(StoredRelease(kind, period, now, epsilon, scale, acc, held.alpha,
                                           dict(zip(item_ids, counts.tolist(), strict=True))))
            self._held[kind] = held
            self._retry_at.pop(kind, None)
            return held

    def status(self) -> dict:
        """Today's budget: {period, epsilon_per_day, spent, releases: {kind: released_at}}."""
        now = self.clock()
        period = period_of(now)
        return {"period": period, "epsilon_per_day": float(self._p.dp_epsilon_per_day),
                "spent": self.ledger.spent(period),
                "releases": {k: r.released_at for k in KINDS if (r := self.ledger.last(k)) is not None}}


def _next_day(now: float) -> float:
    return (math.floor(now / 86400) + 1) * 86400.0
