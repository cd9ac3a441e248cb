"""The SQL side of marketing campaigns: a campaign's record and its members by arm."""

from __future__ import annotations

import json

import pandas as pd
import sqlalchemy as sa

from shelfwise.store.tables import campaign_members_table, campaigns_table

ARMS = ("treatment", "control")


class CampaignStore:
    """Mixin of ``SqlEventStore``: needs ``self.engine``."""

    def create_campaign(self, campaign_id: str, name: str, created_at: float, spec: dict,
                        members: list[tuple[str, str, int]]) -> None:
        """Store a campaign and its members (user_id, arm, rank) in one transaction."""
        bad = sorted({arm for _, arm, _ in members} - set(ARMS))
        if bad:
            raise ValueError(f"arm must be one of {ARMS}, got {bad}")
        with self.engine.begin() as conn:
            conn.execute(sa.insert(campaigns_table), [{"campaign_id": campaign_id, "name": name,
                                                       "created_at": float(created_at), "spec": json.dumps(spec)}])
            if members:
                conn.execute(sa.insert(campaign_members_table),
                             [{"campaign_id": campaign_id, "user_id": u, "arm": a, "rank": int(r)}
                              for u, a, r in members])

    def campaign(self, campaign_id: str) -> dict | None:
        """{campaign_id, name, created_at, spec} or None."""
        t = campaigns_table.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.campaign_id, t.name, t.created_at, t.spec)
                               .where(t.campaign_id == campaign_id)).first()
        if row is None:
            return None
        return {"campaign_id": row[0], "name": row[1], "created_at": float(row[2]), "spec": json.loads(row[3])}

    def campaign_members(self, campaign_id: str) -> pd.DataFrame:
        """Columns user_id, arm, rank, ordered by rank."""
        t = campaign_members_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.user_id, t.arm, t.rank).where(t.campaign_id == campaign_id)
                                .order_by(t.rank)).all()
        return pd.DataFrame([tuple(r) for r in rows], columns=["user_id", "arm", "rank"])

    def list_campaigns(self) -> list[dict]:
        t = campaigns_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.campaign_id, t.name, t.created_at).order_by(t.created_at)).all()
        return [{"campaign_id": r[0], "name": r[1], "created_at": float(r[2])} for r in rows]
