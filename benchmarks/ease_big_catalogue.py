"""EASE past ``max_items`` (20,000): the cut (the most-interacted items modelled, the rest
ranked after them by popularity) against the connected components of the item graph (every
item modelled by the exact closed form; the cut where a component is too large).

Datasets and protocol of ``big_catalogue.py``: Taobao's 2-hour slice, ``union`` of the shared
ordered logs, the synthetic shop; leave-one-out on the last new item of each shopper, every
item ranked, the shopper's history excluded; NDCG@10 and HR@10 over every test shopper, and
over the test shoppers whose held-out item the cut leaves unmodelled ("tail"). Each run is a
fresh process, so its peak resident memory (the fit's rise over the process's RSS, sampled
every 5 ms) is not hidden by memory an earlier run freed. Fit time is wall clock, so other
load on the machine shows up in it.

Run:  .venv/bin/python benchmarks/ease_big_catalogue.py [--datasets taobao union synthetic]
      [--l2 100] [--synthetic-items 120000] [--synthetic-users 3000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.harness import evaluate_model, score_lists, truth_from
from shelfwise.models import create
from shelfwise.models.ease_blocks import item_components


def one(dataset: str, mode: str, l2: float, n_items: int, n_users: int) -> dict:
    from big_catalogue import events_of  # beside this script

    events, catalogue = events_of(dataset, n_items, n_users)
    split = leave_one_out(events, by="item")
    train = Interactions.from_events(split.train, items=catalogue)
    users, truth = truth_from(split.test, train)
    model = create("ease", l2=l2, past_max_items=mode)
    r = evaluate_model(model, train, users, truth, ks=(10,), latency_sample=0)
    # the shoppers whose held-out item lies outside the cut's modelled set
    counts = np.asarray(train.binary.sum(0)).ravel()
    head = np.zeros(train.n_items, dtype=bool)
    head[np.lexsort((np.arange(train.n_items), -counts))[:model.max_items]] = True
    tail = np.array([not head[t].any() for t in truth])
    tail_metrics = (score_lists(r.recs[tail], [t for t, x in zip(truth, tail, strict=True) if x], train, (10,))
                    if tail.any() else {"ndcg@10": np.nan, "hr@10": np.nan})
    sizes = np.bincount(item_components(train.binary))
    return {"items": train.n_items, "test": len(users), "tail_test": int(tail.sum()),
            "largest": int(sizes.max()), "modelled": len(model.kept_),
            "blocks": model.blocks_ is not None, "fit_s": r.fit_seconds, "peak_mb": r.fit_peak_mb,
            "ndcg": r.metrics["ndcg@10"], "hr": r.metrics["hr@10"],
            "tail_ndcg": tail_metrics["ndcg@10"], "tail_hr": tail_metrics["hr@10"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["taobao", "union", "synthetic"],
                    choices=["taobao", "union", "synthetic"])
    ap.add_argument("--l2", type=float, default=100.0)
    ap.add_argument("--synthetic-items", type=int, default=120_000)
    ap.add_argument("--synthetic-users", type=int, default=3_000)
    ap.add_argument("--one", nargs=2, metavar=("DATASET", "MODE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.l2, args.synthetic_items, args.synthetic_users)))
        return
    print(f"{'dataset':<10}{'items':>9}{'largest comp':>13}{'mode':>16}{'modelled':>9}{'fit s':>7}"
          f"{'peak MB':>8}{'NDCG@10':>9}{'HR@10':>8}{'tail shoppers':>14}{'tail NDCG':>10}{'tail HR':>8}")
    for d in args.datasets:
        for mode in ("cut", "components"):
            cmd = [sys.executable, __file__, "--one", d, mode, "--l2", str(args.l2),
                   "--synthetic-items", str(args.synthetic_items), "--synthetic-users", str(args.synthetic_users)]
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            used = mode if mode == "cut" or r["blocks"] else "cut (fell back)"
            print(f"{d:<10}{r['items']:>9,}{r['largest']:>13,}{used:>16}{r['modelled']:>9,}{r['fit_s']:>7.0f}"
                  f"{r['peak_mb']:>8.0f}{r['ndcg']:>9.4f}{r['hr']:>8.4f}{r['tail_test']:>14,}"
                  f"{r['tail_ndcg']:>10.4f}{r['tail_hr']:>8.4f}", flush=True)


if __name__ == "__main__":
    main()
