"""What the shop's privacy officer reads: consent as stored, deletions waiting and done.

``privacy_report`` gives one dict (the dashboard's Privacy page and ``GET /privacy`` show it):

    {"consent": {"given": int, "withheld": int, "default": bool},
     "forgetting": {"pending": int, "oldest_seconds": float, "refit_delay_seconds": float,
                    "audit": [{"requested_at", "requested_by", "events_deleted", "profile_rows_deleted",
                               "impressions_deleted", "versions_scrubbed", "refit_version",
                               "completed_at"}, ...]},  # newest first, at most ``audit_rows``
     "published": {"dp_enabled": bool, and with it "period", "epsilon_per_day", "spent",
                   "releases": {kind: released_at}}}  # privacy.dp.PublicCounts.status

No shopper id appears in it: the audit rows hold none.
"""

from __future__ import annotations

import math

import sqlalchemy as sa

from shelfwise.privacy.forgetting import Forgetting
from shelfwise.store.tables import users_table


def consent_counts(engine: sa.Engine) -> dict[str, int]:
    """{"given": profiles that allow personalisation, "withheld": profiles that do not}."""
    c = users_table.c
    with engine.connect() as conn:
        rows = conn.execute(sa.select(c.consent, sa.func.count()).group_by(c.consent)).all()
    counts = {bool(consent): int(n) for consent, n in rows}
    return {"given": counts.get(True, 0), "withheld": counts.get(False, 0)}


def _plain(value):
    """A JSON value: NaN/None as None, numpy scalars as Python ones."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def privacy_report(store, forgetting: Forgetting, settings, audit_rows: int = 20, public=None) -> dict:
    """``public``: the shop's ``privacy.dp.PublicCounts`` when it publishes through them."""
    audit = forgetting.log.audit().drop(columns=["audit_id"]).head(audit_rows)
    rows = [{k: _plain(v) for k, v in row.items()} for row in audit.to_dict("records")]
    return {"consent": {**consent_counts(store.engine), "default": settings.privacy.consent_default},
            "forgetting": {**forgetting.status(),
                           "refit_delay_seconds": settings.privacy.forget_refit_delay_seconds,
                           "audit": rows},
            "published": {"dp_enabled": public is not None, **(public.status() if public is not None else {})}}
