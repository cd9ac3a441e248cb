"""Import throughput and baseline fit cost.

Prints:
1. synthetic-shop generation time for about a million events (target: under 30 s);
2. bulk import throughput from a CSV file through ``Engine.import_file`` (read, validate,
   derive ids, append in transactions) into SQLite and into PostgreSQL (target: SQLite
   >= 100,000 events/s), and the second, all-duplicate import of the same file;
3. fit seconds, peak memory and NDCG@10 / HR@10 of each baseline on Amazon Beauty
   leave-one-out (full ranking, seen items excluded).

Run: ``.venv/bin/python benchmarks/import_and_fit.py`` (or ``make bench``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from shelfwise.config import Settings
from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_amazon
from shelfwise.data.splits import leave_one_out
from shelfwise.data.synthetic import generate_shop
from shelfwise.engine import Engine
from shelfwise.evaluation.harness import evaluate_model, truth_from
from shelfwise.models import create

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# the sequence models train for minutes: benchmarks/accuracy.py measures them
CLASSIC = ["popular", "itemknn", "userknn", "rules", "ease", "als", "bpr"]
PG_URL = os.environ.get("SHELFWISE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _import(engine: Engine, path: Path) -> tuple[float, int]:
    t = time.perf_counter()
    report = engine.import_file(path)
    return time.perf_counter() - t, report.added


def _pg_engine(home: Path):
    import sqlalchemy as sa

    admin = sa.create_engine("postgresql+psycopg://" + PG_URL.split("://", 1)[1])
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        print(f"  PostgreSQL at {PG_URL} not reachable ({exc.__class__.__name__}): skipped")
        return None, None, None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = f"postgresql://{PG_URL.split('://', 1)[1]}?options=-csearch_path%3D{schema}"
    return Engine(Settings(home=home, store_url=url)), admin, schema


def bench_import(n_users: int, tmp: Path) -> None:
    print("== synthetic shop and bulk import ==")
    t = time.perf_counter()
    shop = generate_shop(n_users=n_users, n_items=5000, seed=1)
    gen = time.perf_counter() - t
    n = len(shop.events)
    print(f"  generate_shop: {n:,} events in {gen:.1f} s ({n / gen:,.0f} events/s)")
    csv = tmp / "events.csv"
    shop.events[["user_id", "item_id", "event_type", "timestamp", "session_id", "value"]].to_csv(
        csv, index=False)
    print(f"  {'backend':<12}{'events':>12}{'seconds':>10}{'events/s':>12}"
          f"{'re-import s':>14}{'added again':>13}")
    sqlite = Engine(Settings(home=tmp / "sqlite"))
    runs = [("sqlite", sqlite, None, None)]
    pg, admin, schema = _pg_engine(tmp / "pg")
    if pg is not None:
        runs.append(("postgresql", pg, admin, schema))
    for name, engine, admin_engine, sch in runs:
        secs, added = _import(engine, csv)
        again_s, again = _import(engine, csv)
        print(f"  {name:<12}{added:>12,}{secs:>10.2f}{added / secs:>12,.0f}{again_s:>14.2f}{again:>13,}")
        engine.close()
        if admin_engine is not None:
            import sqlalchemy as sa

            with admin_engine.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {sch} CASCADE"))


def bench_fit() -> None:
    print("== baselines on Amazon Beauty, leave-one-out, full ranking ==")
    if not DATA.exists():
        print(f"  {DATA} missing: skipped")
        return
    ds = load_amazon(DATA / "amazon-beauty", "Beauty")
    split = leave_one_out(ds.events)
    train = Interactions.from_events(split.train)
    users, truth = truth_from(split.test, train)
    print(f"  {train.n_users:,} users, {train.n_items:,} items, {train.n_events:,} training events")
    print(f"  {'model':<10}{'fit s':>8}{'fit peak MB':>13}{'batch ms/user':>14}{'p50 ms':>8}"
          f"{'NDCG@10':>9}{'HR@10':>8}")
    for name in CLASSIC:
        r = evaluate_model(create(name), train, users, truth, ks=(10,))
        print(f"  {name:<10}{r.fit_seconds:>8.2f}{r.fit_peak_mb:>13.1f}{r.ms_per_user_batch:>14.3f}"
              f"{r.latency_p50_ms:>8.2f}"
              f"{r.metrics['ndcg@10']:>9.4f}{r.metrics['hr@10']:>8.4f}")


def main() -> None:
    n_users = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    with tempfile.TemporaryDirectory() as tmp:
        bench_import(n_users, Path(tmp))
    bench_fit()


if __name__ == "__main__":
    main()
