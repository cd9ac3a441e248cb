"""Full (chunked) softmax against sampled softmax on big catalogues, on CPU.

Datasets: the largest catalogue in ../shared/data, Taobao UserBehavior's 2-hour slice
(84,793 items; most shoppers have one or two events); ``union``, every shared ordered log
(``seq_logs.py``: Beauty, Toys, Grocery, YooChoose, Taobao, MovieLens) as one shop with
ids prefixed by log, about 122,000 items of which the Amazon, YooChoose and MovieLens
parts carry enough events to learn from; and a synthetic shop
(``shelfwise.data.synthetic``) with 120,000 items by default. Protocol: leave-one-out on the
last new item of each shopper (``leave_one_out(by="item")``, shop logs repeat items), rank
every item, exclude the shopper's history; NDCG@10 and HR@10 over every test shopper.

Both losses get the same training budget (``--minutes``; early stopping on validation NDCG
may end a run sooner). Per run: epochs, seconds per epoch (training + validation, wall
clock, so other load on the machine shows up here), peak resident memory of the fit
(the rise over the process's RSS before it), and the full-ranking metrics.

Run:  .venv/bin/python benchmarks/big_catalogue.py [--datasets taobao union synthetic]
      [--losses ce sampled] [--minutes 4] [--synthetic-items 120000] [--synthetic-users 3000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_taobao
from shelfwise.data.splits import leave_one_out
from shelfwise.data.synthetic import generate_shop
from shelfwise.evaluation.harness import evaluate_model, truth_from
from shelfwise.models import create

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def events_of(dataset: str, n_items: int, n_users: int):
    """(events, catalogue or None): the synthetic shop's whole catalogue is ranked, items
    nobody touched in training included."""
    if dataset == "taobao":
        path = DATA / "taobao-userbehavior" / "UserBehavior_timeslice.csv"
        return load_taobao(path).events, None
    if dataset == "union":
        from seq_logs import LOGS  # beside this script

        parts = []
        for name, load in LOGS.items():
            events = load().events
            for col in ("user_id", "item_id"):
                events[col] = name + ":" + events[col].astype(str)
            parts.append(events)
        return pd.concat(parts, ignore_index=True), None
    shop = generate_shop(n_users=n_users, n_items=n_items, seed=0)
    return shop.events, shop.items


def run(dataset: str, losses: list[str], minutes: float, n_items: int, n_users: int,
        params: dict) -> None:
    events, catalogue = events_of(dataset, n_items, n_users)
    split = leave_one_out(events, by="item")
    train = Interactions.from_events(split.train, items=catalogue)
    users, truth = truth_from(split.test, train)
    lengths = np.diff(train.seq_indptr)
    print(f"\n== {dataset}: {train.n_users:,} shoppers, {train.n_items:,} items, "
          f"{train.n_events:,} training events (median history {np.median(lengths):.0f}), "
          f"{len(users):,} test shoppers; budget {minutes:g} min per run ==")
    print(f"{'loss':<9}{'epochs':>7}{'s/epoch':>9}{'fit s':>8}{'peak MB':>9}{'val NDCG':>10}"
          f"{'NDCG@10':>9}{'HR@10':>8}", flush=True)
    for loss in losses:
        model = create("sasrec", loss=loss, max_minutes=minutes, **params)
        r = evaluate_model(model, train, users, truth, ks=(10,))
        epochs = len(model.history_)
        per_epoch = model.history_[-1]["seconds"] / epochs
        print(f"{loss:<9}{epochs:>7}{per_epoch:>9.1f}{r.fit_seconds:>8.0f}{r.fit_peak_mb:>9.0f}"
              f"{model.best_validation_ndcg_:>10.4f}{r.metrics['ndcg@10']:>9.4f}"
              f"{r.metrics['hr@10']:>8.4f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["taobao", "synthetic"],
                    choices=["taobao", "union", "synthetic"])
    ap.add_argument("--losses", nargs="+", default=["ce", "sampled"], choices=["ce", "sampled"])
    ap.add_argument("--minutes", type=float, default=4.0, help="training budget of each run")
    ap.add_argument("--synthetic-items", type=int, default=120_000)
    ap.add_argument("--synthetic-users", type=int, default=3_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for d in args.datasets:
        run(d, args.losses, args.minutes, args.synthetic_items, args.synthetic_users,
            {"seed": args.seed})


if __name__ == "__main__":
    main()
