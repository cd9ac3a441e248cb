"""The figures the dashboard's pages show, read from the store, the model versions, the
evaluation report and this process's metrics. Lists of items never come from here: they
come from the Engine's one serving path."""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path

import sqlalchemy as sa

from shelfwise.api.routes.browse import list_items, list_users
from shelfwise.store.fields import PREFIX, context_aad, reveal
from shelfwise.store.tables import events_table, impressions_table, items_table

DAY = 86400.0
REPORT_METRICS = ("ndcg@10", "precision@10", "recall@10", "hr@10", "coverage", "diversity", "novelty")


def events_per_day(engine, days: int = 30) -> dict:
    """Events per day by behaviour over the ``days`` up to the newest event:
    {"days": [Unix day start, ...], "series": {behaviour: [count per day]}, "newest": t}."""
    e = events_table.c
    with engine.store.engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(e.timestamp))).scalar()
        if newest is None:
            return {"days": [], "series": {}, "newest": None}
        first = math.floor(newest / DAY) - days + 1
        day = sa.cast(sa.func.floor(e.timestamp / DAY), sa.Integer).label("day")
        rows = conn.execute(sa.select(day, e.event_type, sa.func.count()).where(e.timestamp >= first * DAY)
                            .group_by(day, e.event_type)).all()
    index = list(range(first, first + days))
    series: dict[str, list[int]] = {}
    for d, kind, n in rows:
        series.setdefault(str(kind), [0] * days)[int(d) - first] = int(n)
    return {"days": [d * DAY for d in index], "series": dict(sorted(series.items())), "newest": float(newest)}


def active_shoppers(engine, newest: float | None, days: float = 7.0) -> int:
    """Shoppers with an event in the ``days`` up to the newest event."""
    if newest is None:
        return 0
    e = events_table.c
    with engine.store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count(sa.distinct(e.user_id)))
                                .where(e.timestamp >= newest - days * DAY)).scalar_one())


def catalogue(engine) -> dict:
    with engine.store.engine.connect() as conn:
        in_stock = conn.execute(sa.select(sa.func.count()).select_from(items_table)
                                .where(items_table.c.in_stock.is_(True))).scalar_one()
    return {"items": list_items(engine, limit=1)["total"], "in_stock": int(in_stock),
            "shoppers": list_users(engine, limit=1)["total"]}


def serving(engine) -> dict:
    """The default model, the version it serves from, and that version's hold-out check."""
    name = engine.settings.default_model
    version = engine.versions.active().get(name)
    out = {"model": name, "version": version, "trained_at": None, "check": None}
    if version:
        run = engine.versions.run(version)
        out["trained_at"] = run["trained_at"]
        check = run.get("check") or {}
        out["check"] = (check.get("models") or {}).get(name)
    return out


def _sample_sum(metric) -> dict[tuple, float]:
    out = {}
    for family in metric.collect():
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def service(app_state) -> dict:
    """Requests, latency, fallbacks and list-cache hits counted by this process since it
    started (``/metrics`` has the same counters)."""
    m = app_state.metrics
    started = getattr(app_state, "dashboard_started", None) or time.time()
    uptime = max(time.time() - started, 1e-9)
    requests = sum(v for (n, labels), v in _sample_sum(m.requests).items() if n.endswith("_total"))
    lat = _sample_sum(m.latency)
    count = sum(v for (n, _), v in lat.items() if n.endswith("_count"))
    total = sum(v for (n, _), v in lat.items() if n.endswith("_sum"))
    lists = sum(v for (n, labels), v in _sample_sum(m.requests).items()
                if n.endswith("_total") and dict(labels).get("route") == "/users/{user_id}/recommendations")
    hits = sum(v for (n, _), v in _sample_sum(m.cache_hits).items() if n.endswith("_total"))
    fallbacks = {dict(labels)["reason"]: int(v) for (n, labels), v in _sample_sum(m.fallbacks).items()
                 if n.endswith("_total")}
    return {"requests": int(requests), "per_minute": round(60 * requests / uptime, 1),
            "mean_ms": round(1000 * total / count, 1) if count else None,
            "p95_ms": _quantile(lat, 0.95), "fallbacks": fallbacks, "list_requests": int(lists),
            "cache_hit_rate": round(hits / lists, 3) if lists else None, "uptime_s": round(uptime)}


def _quantile(lat: dict, q: float) -> float | None:
    """The upper bound (ms) of the histogram bucket holding the ``q`` quantile, all routes."""
    buckets: dict[float, float] = {}
    for (name, labels), v in lat.items():
        if name.endswith("_bucket"):
            le = float(dict(labels)["le"])
            buckets[le] = buckets.get(le, 0.0) + v
    if not buckets or buckets.get(math.inf, 0) == 0:
        return None
    total = buckets[math.inf]
    for le in sorted(buckets):
        if buckets[le] >= q * total:
            return None if math.isinf(le) else round(le * 1000, 1)
    return None


def overview(engine, app_state) -> dict:
    per_day = events_per_day(engine)
    lag = time.time() - per_day["newest"] if per_day["newest"] is not None else None
    return {"per_day": per_day, "active_7d": active_shoppers(engine, per_day["newest"]),
            "catalogue": catalogue(engine), "serving": serving(engine), "service": service(app_state),
            "newest_event": per_day["newest"], "newest_event_age_s": round(lag) if lag is not None else None,
            "newest_event_age": _age(lag)}


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "no events"
    if seconds >= 2 * DAY:
        return f"{seconds / DAY:.0f} days"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{max(seconds, 0):.0f} s"


def report(home: str | Path) -> dict | None:
    """The last offline evaluation (``shelfwise evaluate --report`` / the demo's
    ``<home>/report``): per model the metrics of ``REPORT_METRICS``, and F1 at K = 1..50."""
    folder = Path(home) / "report"
    metrics_csv, f1_csv = folder / "metrics.csv", folder / "f1_by_k.csv"
    if not metrics_csv.exists():
        return None
    with metrics_csv.open() as f:
        rows = list(csv.DictReader(f))
    first = next(iter(rows[0])) if rows else "model"
    models = {r[first]: {m: float(r[m]) for m in REPORT_METRICS if r.get(m) not in (None, "")} for r in rows}
    f1 = {}
    if f1_csv.exists():
        with f1_csv.open() as f:
            table = list(csv.DictReader(f))
        f1 = {name: [float(r[name]) for r in table] for name in (table[0].keys() if table else []) if name != "k"}
    return {"models": models, "f1_by_k": f1, "written": metrics_csv.stat().st_mtime, "folder": str(folder)}


def exposure(engine, item_id: str, shoppers: int = 20) -> dict:
    """How often the item was shown (the impression log), and clicked and bought after a list
    that showed it (events naming that list's recommendation id), with the shoppers it was
    shown to most recently."""
    i, e = impressions_table.c, events_table.c
    with engine.store.engine.connect() as conn:
        shown = conn.execute(sa.select(sa.func.count()).where(i.item_id == item_id)).scalar_one()
        lists = {r[0] for r in conn.execute(sa.select(i.recommendation_id).where(i.item_id == item_id))}
        recent = conn.execute(sa.select(i.user_id, sa.func.max(i.created_at).label("at"))
                              .where(i.item_id == item_id, i.user_id != "").group_by(i.user_id)
                              .order_by(sa.desc("at")).limit(shoppers)).all()
        # an encrypted context (store.fields) is matched after decrypting it
        followed = conn.execute(sa.select(e.user_id, e.event_type, e.context)
                                .where(e.item_id == item_id, sa.or_(e.context.contains("recommendation_id"),
                                                                    e.context.startswith(PREFIX)))).all()
    after: dict[str, int] = {}
    for user_id, kind, context in followed:
        try:
            rid = json.loads(reveal(engine.store.cipher, context, context_aad(user_id))).get("recommendation_id")
        except (ValueError, AttributeError):
            continue
        if rid in lists:
            after[kind] = after.get(kind, 0) + 1
    clicked = sum(n for k, n in after.items() if k in ("view", "click"))
    return {"shown": int(shown), "clicked": clicked, "bought": after.get("purchase", 0), "after_list": after,
            "shown_to": [{"user_id": r.user_id, "at": float(r.at)} for r in recent]}
