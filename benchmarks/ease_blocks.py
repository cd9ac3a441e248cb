"""EASE's blocks (``past_max_items="blocks"``) against its cut, where a connected catalogue
is larger than ``max_items``.

No shared log has one connected component past 20,000 items, so ``max_items`` is set to a
fraction of each Amazon log's catalogue (Beauty, Toys, Grocery): the cut models the
``max_items`` most-interacted items; the blocks model every item, in pieces of at most
``max_items^2 / n_items`` items (recursive spectral bisection of the item graph), so both
hold at most ``max_items^2`` weights. Exact EASE over every item is the reference.
Protocol of ``accuracy.py`` (the data README): leave-one-out, full ranking, history excluded.
Fit time is wall clock, so other load on the machine shows up in it.

Run:  .venv/bin/python benchmarks/ease_blocks.py [--datasets beauty toys grocery] [--fractions 0.25 0.5]
"""

from __future__ import annotations

import argparse

from accuracy import DATA, DATASETS  # beside this script
from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_amazon, load_amazon_grocery
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.harness import evaluate_model, truth_from
from shelfwise.models import create


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--fractions", nargs="+", type=float, default=[0.25, 0.5])
    args = ap.parse_args()
    print(f"{'dataset':<9}{'items':>7}{'max_items':>10}{'mode':>8}{'NDCG@10':>9}{'HR@10':>8}{'vs cut':>8}{'fit s':>7}")
    for d in args.datasets:
        folder, name = DATASETS[d]
        ds = load_amazon(DATA / folder, name) if name else load_amazon_grocery(DATA / folder)
        split = leave_one_out(ds.events)
        train = Interactions.from_events(split.train, items=ds.items)
        users, truth = truth_from(split.test, train)
        runs = [(train.n_items, "exact")] + [(int(train.n_items * f), mode) for f in args.fractions
                                             for mode in ("cut", "blocks")]
        cut = None
        for m, mode in runs:
            model = create("ease", max_items=m, past_max_items="cut" if mode == "exact" else mode)
            r = evaluate_model(model, train, users, truth, ks=(10,), latency_sample=0)
            ndcg = r.metrics["ndcg@10"]
            cut = ndcg if mode == "cut" else cut
            gain = f"{ndcg / cut - 1:+.1%}" if mode == "blocks" else ""
            print(f"{d:<9}{train.n_items:>7,}{m:>10,}{mode:>8}{ndcg:>9.4f}{r.metrics['hr@10']:>8.4f}{gain:>8}"
                  f"{r.fit_seconds:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
