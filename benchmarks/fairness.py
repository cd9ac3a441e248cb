"""Fairness before and after the long-tail calibrated re-ranking, with its accuracy cost.

On Amazon Beauty (../shared/data, leave-one-out, full ranking, history excluded: the
protocol of ../shared/data/README.md) and on the synthetic shop (last new item per shopper,
as ``shelfwise evaluate`` does), each model ranks a pool of ``--pool`` items per shopper;
``ranking.calibration.long_tail_rerank`` (the function the serving path's final-list stage
applies with ``long_tail_share``) re-ranks it at each target share, and the top 10 is scored:
NDCG@10 and HR@10, the long tail's share of the slots, exposure Gini, the brand gap (brands'
share of slots against their share of training purchases, total-variation distance) and
NDCG@10 of the least and most active third of shoppers (``evaluation.fairness``).

Beauty's items carry attribute ids, not named fields: S3-Rec's preprocessing lists an item's
brand first and its categories after, so an id that only ever comes first is taken as a
brand, and an item whose first id also appears later in some list has no brand.

Prints a table per dataset (``cost``: NDCG@10 lost against share 0; ``s``: seconds to fit the
model and rank the pools) and writes ``reports/fairness_<dataset>.png`` (NDCG@10 against
exposure Gini and against tail share) and ``.csv``.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fairness.py [--datasets beauty synthetic]
      [--models itemknn ease] [--shares 0 0.1 0.2 0.3 0.5 0.7] [--pool 100] [--out reports]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def beauty_brands(items) -> list:
    """A brand label per catalogue row (None: no brand), by the first-id rule above."""
    ids = [list((a or {}).get("attribute_ids", [])) if isinstance(a, dict) else [] for a in items["attributes"]]
    later = {x for row in ids for x in row[1:]}
    return [row[0] if row and row[0] not in later else None for row in ids]


def load(dataset: str):
    """(training view, test shoppers' rows, truth per row, note)."""
    import numpy as np

    from shelfwise.data.interactions import Interactions
    from shelfwise.data.loaders import load_amazon
    from shelfwise.data.splits import leave_one_out
    from shelfwise.data.synthetic import generate_shop
    from shelfwise.evaluation.harness import truth_from

    if dataset == "beauty":
        ds = load_amazon(DATA / "amazon-beauty", "Beauty")
        items = ds.items.copy()
        items["brand"] = beauty_brands(items)
        split = leave_one_out(ds.events)
    else:
        shop = generate_shop(n_users=4000, n_items=1500, seed=0)
        items = shop.items
        split = leave_one_out(shop.events, by="item")
    train = Interactions.from_events(split.train, items=items)
    users, truth = truth_from(split.test, train)
    n_brands = int(train.items["brand"].nunique()) if "brand" in train.items else 0
    note = (f"{train.n_users:,} shoppers, {train.n_items:,} items, {train.n_events:,} training events, "
            f"{len(users):,} test shoppers, {n_brands:,} brands")
    return train, np.asarray(users), truth, note


def run(dataset: str, models: list[str], shares: list[float], pool: int, out: Path) -> list[dict]:
    import numpy as np

    from shelfwise.evaluation.fairness import fairness, training_activity
    from shelfwise.evaluation.metrics import accuracy
    from shelfwise.models import create
    from shelfwise.ranking.calibration import long_tail_mask, long_tail_rerank

    train, users, truth, note = load(dataset)
    print(f"\n== {dataset}: {note}; pool {pool}, top 10 ==", flush=True)
    tail = long_tail_mask(np.diff(train.matrix.tocsc().indptr))
    activity = training_activity(train, list(train.user_ids[users]))
    print(f"{'model':<9}{'share':>6}{'NDCG@10':>9}{'HR@10':>8}{'cost':>8}{'tail@10':>8}{'Gini':>7}"
          f"{'brand gap':>10}{'NDCG low':>9}{'NDCG high':>10}{'s':>6}")
    rows = []
    for name in models:
        start = time.perf_counter()
        model = create(name).fit(train)
        recs, scores = model.recommend(users, n=pool, exclude_seen=True)
        fit_s = time.perf_counter() - start
        base = None
        for share in shares:
            top = np.full((len(users), 10), -1, dtype=np.int64)
            for u in range(len(users)):
                ok = recs[u] >= 0
                items, _ = long_tail_rerank(recs[u][ok], scores[u][ok], 10, tail, share)
                top[u, :min(10, len(items))] = items[:10]
            acc = accuracy(top, truth, (10,))
            fair = fairness(top, truth, train, activity)
            shown = top[top >= 0]
            base = acc["ndcg@10"] if base is None else base
            row = {"dataset": dataset, "model": name, "share": share, "ndcg@10": acc["ndcg@10"],
                   "hr@10": acc["hr@10"], "ndcg_cost": 1 - acc["ndcg@10"] / base if base else 0.0,
                   "tail@10": float(tail[shown].mean()) if len(shown) else 0.0, **fair}
            rows.append(row)
            print(f"{name:<9}{share:>6.2f}{row['ndcg@10']:>9.4f}{row['hr@10']:>8.4f}{row['ndcg_cost']:>8.1%}"
                  f"{row['tail@10']:>8.3f}{row['exposure_gini@10']:>7.3f}{row['brand_gap@10']:>10.3f}"
                  f"{row['ndcg@10_low']:>9.4f}{row['ndcg@10_high']:>10.4f}{fit_s:>6.0f}", flush=True)
    _plot(rows, dataset, out)
    return rows


def _plot(rows: list[dict], dataset: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    frame = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / f"fairness_{dataset}.csv", index=False)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, part in frame.groupby("model", sort=False):
        for ax, x in zip(axes, ("tail@10", "exposure_gini@10"), strict=True):
            ax.plot(part[x], part["ndcg@10"], marker="o", label=name)
            for _, r in part.iterrows():
                ax.annotate(f"{r['share']:g}", (r[x], r["ndcg@10"]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    axes[0].set(xlabel="long-tail share of top-10 slots", ylabel="NDCG@10",
                title=f"{dataset}: accuracy against long-tail share")
    axes[1].set(xlabel="exposure Gini@10 (lower = fairer)", ylabel="NDCG@10",
                title=f"{dataset}: accuracy against exposure concentration")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"fairness_{dataset}.png", dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["beauty", "synthetic"], choices=["beauty", "synthetic"])
    parser.add_argument("--models", nargs="+", default=["itemknn", "ease"])
    parser.add_argument("--shares", nargs="+", type=float, default=[0.0, 0.1, 0.2, 0.3, 0.5, 0.7])
    parser.add_argument("--pool", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args()
    if any(not 0 <= s <= 1 for s in args.shares):
        parser.error("--shares: each share must be in [0, 1]")
    if args.pool < 10:
        parser.error("--pool must be >= 10")
    for dataset in args.datasets:
        run(dataset, args.models, args.shares, args.pool, args.out)


if __name__ == "__main__":
    main()
