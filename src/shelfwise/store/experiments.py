"""The SQL side of experiments: their records, and the rows an experiment's statistics read
(its impressions, and its shoppers' events)."""

from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa

from shelfwise.store.tables import events_table, experiments_table, impressions_table

CHUNK = 500  # shopper ids per IN (...): well under every driver's parameter limit


class ExperimentStore:
    """Mixin of ``SqlEventStore``: needs ``self.engine``."""

    def create_experiment(self, record: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.insert(experiments_table), [{
                "experiment_id": record["experiment_id"], "name": record["name"], "kind": record["kind"],
                "created_at": float(record["created_at"]), "stopped_at": None, "spec": json.dumps(record["spec"])}])

    def experiments(self) -> list[dict]:
        t = experiments_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.experiment_id, t.name, t.kind, t.created_at, t.stopped_at, t.spec)
                                .order_by(t.created_at, t.experiment_id)).all()
        return [{"experiment_id": r[0], "name": r[1], "kind": r[2], "created_at": float(r[3]),
                 "stopped_at": None if r[4] is None else float(r[4]), "spec": json.loads(r[5])} for r in rows]

    def stop_experiment(self, experiment_id: str, at: float) -> bool:
        t = experiments_table.c
        with self.engine.begin() as conn:
            done = conn.execute(sa.update(experiments_table).where(t.experiment_id == experiment_id)
                                .where(t.stopped_at.is_(None)).values(stopped_at=float(at))).rowcount
        return bool(done)

    def experiment_impressions(self, experiment_id: str) -> pd.DataFrame:
        t = impressions_table.c
        cols = ["recommendation_id", "position", "item_id", "user_id", "created_at", "variant"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*[t[c] for c in cols]).where(t.experiment == experiment_id)
                                .order_by(t.created_at, t.recommendation_id, t.position)).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        frame["position"] = frame["position"].astype("int64")
        frame["created_at"] = frame["created_at"].astype("float64")
        return frame

    def events_of(self, user_ids: list[str], since: float) -> pd.DataFrame:
        t = events_table.c
        cols = ["user_id", "item_id", "event_type", "timestamp", "value", "context"]
        rows = []
        ids = sorted(set(map(str, user_ids)))
        with self.engine.connect() as conn:
            for start in range(0, len(ids), CHUNK):
                rows += conn.execute(sa.select(*[t[c] for c in cols])
                                     .where(t.user_id.in_(ids[start:start + CHUNK]))
                                     .where(t.timestamp >= float(since)).order_by(t.timestamp, t.seq)).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=cols)
        frame["timestamp"] = frame["timestamp"].astype("float64")
        frame["value"] = pd.to_numeric(frame["value"]).astype("float64")
        return frame
