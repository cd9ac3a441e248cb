"""The privacy budget's accountant and the last release of each public count.

Two tables beside the events (same database URL, so every serving process shares them):
``dp_budget`` holds, per period (a UTC day), the epsilon spent so far; ``dp_releases`` the
last release of each kind of count (its noisy counts as JSON, what it cost, its bound).
``spend`` is one conditional UPDATE, so two processes cannot both take the last of a budget.

    ledger = Ledger(store.engine)
    ledger.spend("2026-12-07", 0.25, budget=1.0)  # True, then False once 1.0 is spent
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa

_metadata = sa.MetaData()
budget_table = sa.Table(
    "dp_budget", _metadata,
    sa.Column("period", sa.String(32), primary_key=True),
    sa.Column("spent", sa.Float(precision=53), nullable=False),
)
releases_table = sa.Table(
    "dp_releases", _metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("period", sa.String(32), nullable=False),
    sa.Column("released_at", sa.Float(precision=53), nullable=False),
    sa.Column("epsilon", sa.Float(precision=53), nullable=False),
    sa.Column("scale", sa.Float(precision=53), nullable=False),
    sa.Column("accuracy", sa.Float(precision=53), nullable=False),
    sa.Column("alpha", sa.Float(precision=53), nullable=False),
    sa.Column("counts", sa.Text, nullable=False),  # JSON {item id: noisy count}
)
#: float slack when comparing spent epsilon with the budget (0.1 + 0.2 > 0.3 in binary)
SLACK = 1e-9


@dataclass(frozen=True)
class StoredRelease:
    kind: str
    period: str
    released_at: float
    epsilon: float
    scale: float
    accuracy: float
    alpha: float
    counts: dict[str, int]


class Ledger:
    def __init__(self, engine: sa.Engine):
        self.engine = engine
        _metadata.create_all(engine)

    def spend(self, period: str, epsilon: float, budget: float) -> bool:
        """Charge ``epsilon`` to ``period`` if that keeps its total within ``budget``; whether it did."""
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0. Got {epsilon} instead.")
        try:
            with self.engine.begin() as conn:
                conn.execute(budget_table.insert().values(period=period, spent=0.0))
        except sa.exc.IntegrityError:
            pass  # the period's row exists already
        t = budget_table.c
        with self.engine.begin() as conn:
            done = conn.execute(budget_table.update()
                                .where(t.period == period, t.spent + epsilon <= budget + SLACK)
                                .values(spent=t.spent + epsilon))
        return done.rowcount == 1

    def spent(self, period: str) -> float:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(budget_table.c.spent).where(budget_table.c.period == period)).scalar()
        return float(value or 0.0)

    def save(self, release: StoredRelease) -> None:
        values = {"period": release.period, "released_at": release.released_at, "epsilon": release.epsilon,
                  "scale": release.scale, "accuracy": release.accuracy, "alpha": release.alpha,
                  "counts": json.dumps(release.counts)}
        with self.engine.begin() as conn:
            done = conn.execute(releases_table.update().where(releases_table.c.kind == release.kind).values(**values))
            if done.rowcount == 0:
                conn.execute(releases_table.insert().values(kind=release.kind, **values))

    def last(self, kind: str) -> StoredRelease | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(releases_table).where(releases_table.c.kind == kind)).first()
        if row is None:
            return None
        return StoredRelease(row.kind, row.period, float(row.released_at), float(row.epsilon), float(row.scale),
                             float(row.accuracy), float(row.alpha),
                             {str(k): int(v) for k, v in json.loads(row.counts).items()})
