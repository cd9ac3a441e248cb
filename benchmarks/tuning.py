"""Does ``--tune-minutes`` find something? SASRec's validation NDCG@10 with its defaults
and after the search, per shared ordered log (``seq_logs.py``).

Each log's test target (every user's last event) is cut off first; the tuner is given the
rest and holds out each user's last remaining event as validation, exactly as
``recommend-batch --tune-minutes`` does with a file. "defaults" is trial 0 (the defaults
at the trial budget, minutes / 4), "best" the best trial; they are equal when nothing beat
the defaults. Also printed: trials run and pruned, and the training cost of the defaults'
trial (epochs, seconds per epoch including validation, epoch of its best validation).

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tuning.py [--logs beauty toys ...]
      [--model sasrec] [--minutes 10]
"""

from __future__ import annotations

import argparse

import torch

from seq_logs import LOGS, describe, training_events
from shelfwise.tuning import tune


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logs", nargs="+", default=list(LOGS), choices=list(LOGS))
    ap.add_argument("--model", default="sasrec")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)  # the machine is shared; figures are for one core
    print(f"{'log':<11}{'defaults':>9}{'  -> best':>9}{'change':>8}{'trials':>7}{'pruned':>7}"
          f"{'epochs':>7}{'s/epoch':>8}{'best ep':>8}  best parameters")
    for name in args.logs:
        events = training_events(name)
        print(f"# {name}: {describe(events)}", flush=True)
        r = tune(events, args.model, args.minutes, seed=args.seed)
        t = r.trials
        pruned = int((t["state"] == "PRUNED").sum())
        d = t.iloc[0]
        epochs = d.get("user_attrs_epochs")
        per_epoch = d.get("user_attrs_seconds") / epochs if epochs else float("nan")
        change = (r.best_ndcg / r.default_ndcg - 1) if r.default_ndcg else float("nan")
        print(f"{name:<11}{r.default_ndcg:>9.4f}{r.best_ndcg:>9.4f}{change:>8.1%}{len(t):>7}"
              f"{pruned:>7}{epochs:>7.0f}{per_epoch:>8.1f}{d.get('user_attrs_best_epoch'):>8.0f}"
              f"  {r.best_params}", flush=True)


if __name__ == "__main__":
    main()
