"""Spark-trained models against the same models fitted in one process, on Amazon Beauty and
Grocery: NDCG@10 and fit time of each, and whether Spark is within 3% of one process.

Protocol (../shared/data/README.md): leave-one-out per user (last item = test target), rank
all items, exclude the user's history; HR@10 and NDCG@10 averaged over all test users, by
the evaluation harness (``truth_from`` / ``score_lists``). Both engines fit the same training
view with the same parameters (the models' defaults unless ``--params``). The Spark fit time
includes Spark's jobs and reading their results back; the session start and the Parquet
export of the view (once per dataset, shared by the models) are printed on their own line.

Run:  .venv/bin/python benchmarks/spark.py [--datasets beauty grocery] [--models als itemknn rules]
      [--master local[2]] [--params '{"als": {"factors": 64}}']
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_amazon, load_amazon_grocery
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.cost import measure
from shelfwise.evaluation.harness import evaluate_model, score_lists, truth_from
from shelfwise.models import create
from shelfwise.models.spark import SPARK_MODELS, SparkTrainer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATASETS = {"beauty": ("amazon-beauty", "Beauty"), "grocery": ("amazon-grocery", None)}
TOLERANCE = 0.03  # Spark's NDCG@10 within 3% (relative) of one process


def run(dataset: str, models: list[str], trainer: SparkTrainer, overrides: dict[str, dict]) -> list[dict]:
    folder, name = DATASETS[dataset]
    ds = load_amazon(DATA / folder, name) if name else load_amazon_grocery(DATA / folder)
    split = leave_one_out(ds.events)
    train = Interactions.from_events(split.train, items=ds.items)
    users, truth = truth_from(split.test, train)
    with measure() as export:
        trainer.frames(train)
    print(f"\n== {dataset}: {train.n_users:,} users, {train.n_items:,} items, {train.n_events:,} training "
          f"events; leave-one-out, full ranking; Parquet export {export.seconds:.1f} s ==")
    print(f"{'model':<10}{'NDCG local':>11}{'NDCG spark':>11}{'HR local':>9}{'HR spark':>9}{'diff':>8}"
          f"{'fit local s':>12}{'fit spark s':>12}  within 3%")
    rows = []
    for m in models:
        params = overrides.get(m, {})
        local = evaluate_model(create(m, **params), train, users, truth, ks=(10,), latency_sample=0)
        with measure() as fit:
            model = trainer.fit(create(m, **params), train)
        recs, _ = model.recommend(users, n=10, exclude_seen=True)
        spark = score_lists(recs, truth, train, ks=(10,))
        a, b = local.metrics["ndcg@10"], spark["ndcg@10"]
        diff = (b - a) / a if a else 0.0
        print(f"{m:<10}{a:>11.4f}{b:>11.4f}{local.metrics['hr@10']:>9.4f}{spark['hr@10']:>9.4f}"
              f"{diff:>+8.1%}{local.fit_seconds:>12.1f}{fit.seconds:>12.1f}  "
              f"{'yes' if abs(diff) <= TOLERANCE else 'NO'}", flush=True)
        rows.append({"dataset": dataset, "model": m, "params": params, "ndcg_local": a, "ndcg_spark": b,
                     "hr_local": local.metrics["hr@10"], "hr_spark": spark["hr@10"], "relative_diff": diff,
                     "fit_local_s": local.fit_seconds, "fit_spark_s": fit.seconds,
                     "export_s": export.seconds})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--models", nargs="+", default=["als", "itemknn", "rules"], choices=sorted(SPARK_MODELS))
    ap.add_argument("--master", default="local[2]", help="Spark master URL")
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--params", type=json.loads, default={}, help="per-model parameters as JSON")
    ap.add_argument("--out", type=Path, default=None, help="folder for a JSON of the rows")
    args = ap.parse_args()
    started = time.perf_counter()
    with SparkTrainer(args.master, driver_memory=args.driver_memory) as trainer:
        print(f"Spark {trainer.spark.version} on {args.master}: session started in "
              f"{time.perf_counter() - started:.1f} s")
        rows = [r for d in args.datasets for r in run(d, args.models, trainer, args.params)]
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"spark_{int(time.time())}.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
