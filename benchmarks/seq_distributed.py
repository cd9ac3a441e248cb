"""SASRec trained on one process against two (``processes=2``: torchrun ranks under
DistributedDataParallel, gloo), on Amazon Beauty and Grocery with the same time budget:
NDCG@10 and HR@10 mean ± std over seeds, fit seconds, epochs, and whether the two settings
are within noise.

Protocol (../shared/data/README.md): the shared ordered logs as bare events (``seq_logs.py``),
leave-one-out per user (last event = test target), every item ranked, the user's history
excluded; HR@10 and NDCG@10 over all test users (``truth_from`` / ``score_lists``). Every
fit has the same ``--minutes`` budget (which, for two processes, includes their start-up),
early stopping and refit epochs as shipped, the model's default parameters otherwise.

"Within noise": the difference of the mean NDCG@10 is at most two standard errors of that
difference (sqrt(s1^2/n1 + s2^2/n2), the seeds' sample standard deviations). With three
seeds that test is weak; read the spread beside it.

Threads: the one-process fit runs on ``--threads`` torch threads (default 1, as the other
sequence benchmarks run: on a shared machine two OpenMP threads slow down badly when the
cores are busy); each of the two ranks takes cores // 2 = 1 on a 2-core machine. So two
processes use two cores where one process uses one: the comparison is of what a second core
buys in a fixed budget, and whether the distributed result is the same model.

Run:  nice -n 5 .venv/bin/python benchmarks/seq_distributed.py [--logs beauty grocery]
      [--minutes 3] [--seeds 0 1 2] [--threads 1]

Measured 2026-12-07 with ``--minutes 2.5`` (load average 5-8 on 2 cores from other jobs:
one or two epochs per fit, so early training is compared): Beauty NDCG@10 0.0462 ± 0.0022
on one process, 0.0480 ± 0.0025 on two (+0.0018, two standard errors 0.0039: within noise);
Grocery 0.0538 ± 0.0032 and 0.0532 ± 0.0010 (-0.0006, 0.0038: within noise). HR@10 Beauty
0.0814 / 0.0836, Grocery 0.0976 / 0.0977; fits 169 s on one process, 157 s on two.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from seq_logs import LOGS
from shelfwise.data.interactions import Interactions
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.harness import score_lists, truth_from
from shelfwise.models import create


def run(train: Interactions, users, truth, processes: int, minutes: float, seed: int) -> dict:
    model = create("sasrec", processes=processes, max_minutes=minutes, seed=seed)
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    recs, _ = model.recommend(users, n=10, exclude_seen=True)
    metrics = score_lists(recs, truth, train, ks=(10,))
    return {"processes": processes, "seed": seed, "ndcg": metrics["ndcg@10"],
            "hr": metrics["hr@10"], "fit_s": seconds, "epochs": len(model.history_),
            "val": model.best_validation_ndcg_}


def summary(rows: list[dict]) -> str:
    nd, hr = np.array([r["ndcg"] for r in rows]), np.array([r["hr"] for r in rows])
    sd = (lambda a: a.std(ddof=1) if len(a) > 1 else 0.0)  # noqa: E731
    return (f"NDCG@10 {nd.mean():.4f} ± {sd(nd):.4f}  HR@10 {hr.mean():.4f} ± {sd(hr):.4f}  "
            f"fit {np.mean([r['fit_s'] for r in rows]):.0f} s  "
            f"epochs {np.mean([r['epochs'] for r in rows]):.1f}  (n={len(rows)})")


def verdict(one: list[dict], two: list[dict]) -> str:
    a, b = np.array([r["ndcg"] for r in one]), np.array([r["ndcg"] for r in two])
    if len(a) < 2 or len(b) < 2:
        return "verdict: needs two seeds or more per setting"
    diff = b.mean() - a.mean()
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    within = abs(diff) <= 2 * se
    return (f"verdict: 2 - 1 processes = {diff:+.4f} NDCG@10 ({diff / a.mean():+.1%}), two standard "
            f"errors {2 * se:.4f}: {'within noise' if within else 'NOT within noise'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logs", nargs="+", default=["beauty", "grocery"], choices=list(LOGS))
    ap.add_argument("--minutes", type=float, default=3.0, help="time budget of every fit")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the one-process fit")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"budget {args.minutes:g} min per fit; one process on {args.threads} thread(s), two "
          "processes on one thread each; 2-core machine shared with other jobs, so fit times "
          "and epochs depend on its load", flush=True)
    data, rows = {}, {log: {1: [], 2: []} for log in args.logs}
    for log in args.logs:
        split = leave_one_out(LOGS[log]().events)
        train = Interactions.from_events(split.train)
        data[log] = (train, *truth_from(split.test, train))
        print(f"{log}: {train.n_users:,} users, {train.n_items:,} items, {train.n_events:,} "
              "training events; leave-one-out, full ranking", flush=True)
    print(f"\n{'log':<9}{'processes':>9}{'seed':>5}{'NDCG@10':>9}{'HR@10':>8}{'val NDCG':>9}"
          f"{'epochs':>7}{'fit s':>7}", flush=True)
    for seed in args.seeds:  # seeds outermost: a run cut short still has every log and setting
        for log in args.logs:
            for processes in (1, 2):
                r = run(*data[log], processes, args.minutes, seed)
                rows[log][processes].append(r)
                print(f"{log:<9}{processes:>9}{seed:>5}{r['ndcg']:>9.4f}{r['hr']:>8.4f}"
                      f"{r['val']:>9.4f}{r['epochs']:>7}{r['fit_s']:>7.0f}", flush=True)
    for log in args.logs:
        print(f"\n== {log} ==")
        for processes in (1, 2):
            print(f"{processes} process{'es' if processes > 1 else ''}: "
                  f"{summary(rows[log][processes])}")
        print(verdict(rows[log][1], rows[log][2]), flush=True)

if __name__ == "__main__":
    main()
