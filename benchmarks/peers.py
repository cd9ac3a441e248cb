"""Peers on the same split and machine: the ``implicit`` library's ALS called directly, next
to shelfwise's ALS (which wraps it) and shelfwise's best classic model.

Protocol: leave-one-out on Amazon Beauty / Toys, full ranking, history excluded. implicit's
own ``recommend(..., filter_already_liked_items=True)`` produces its lists; the same metric
code scores both.

RecBole's SASRec (recbole 1.2.1 in its own virtual environment, about 260 s per epoch and
69 minutes to its reported figure here) is not run by this script yet: see the issue notes.

Run: .venv/bin/python benchmarks/peers.py [--datasets beauty toys]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_amazon
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.harness import evaluate_model, truth_from
from shelfwise.evaluation.metrics import accuracy
from shelfwise.models import create

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATASETS = {"beauty": ("amazon-beauty", "Beauty"), "toys": ("amazon-toys", "Toys_and_Games")}
ALS_PARAMS = {"factors": 128, "regularization": 0.05, "alpha": 10.0, "iterations": 15}


def implicit_als(train: Interactions, users: np.ndarray) -> tuple[np.ndarray, float, float]:
    from implicit.cpu.als import AlternatingLeastSquares

    x = train.matrix.tocsr().astype(np.float32)
    with threadpool_limits(limits=1, user_api="blas"):
        model = AlternatingLeastSquares(**ALS_PARAMS, use_cg=True, random_state=0,
                                        calculate_training_loss=False)
        t = time.perf_counter()
        model.fit(x, show_progress=False)
        fit_s = time.perf_counter() - t
    t = time.perf_counter()
    ids, _ = model.recommend(users, x[users], N=10, filter_already_liked_items=True)
    return np.asarray(ids, dtype=np.int64), fit_s, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    args = ap.parse_args()
    for name in args.datasets:
        folder, stem = DATASETS[name]
        split = leave_one_out(load_amazon(DATA / folder, stem).events)
        train = Interactions.from_events(split.train)
        users, truth = truth_from(split.test, train)
        print(f"\n== {name}: leave-one-out, full ranking, {len(users):,} users ==")
        print(f"{'system':<28}{'HR@10':>8}{'NDCG@10':>9}{'fit s':>8}{'recommend s':>13}")
        recs, fit_s, rec_s = implicit_als(train, users)
        m = accuracy(recs, truth, ks=(10,))
        print(f"{'implicit ALS (direct)':<28}{m['hr@10']:>8.4f}{m['ndcg@10']:>9.4f}{fit_s:>8.1f}"
              f"{rec_s:>13.1f}")
        for label, model in (("shelfwise als", create("als", **ALS_PARAMS)),
                             ("shelfwise ease", create("ease")),
                             ("shelfwise itemknn", create("itemknn"))):
            r = evaluate_model(model, train, users, truth, ks=(10,))
            print(f"{label:<28}{r.metrics['hr@10']:>8.4f}{r.metrics['ndcg@10']:>9.4f}"
                  f"{r.fit_seconds:>8.1f}{r.latency_ms * len(users) / 1000:>13.1f}", flush=True)


if __name__ == "__main__":
    main()
