"""The hybrid pipeline beyond accuracy tables: the accuracy-versus-diversity curve, cold
start, and what it costs to fit and to serve one shopper in-process.

- ``curve``: the hybrid's top 50 per shopper re-ranked by MMR (catalogue similarity: category
  path and brand) as lambda sweeps 1 -> 0; NDCG@10 (leave-one-out, full ranking) against
  intra-list diversity (1 - catalogue similarity, and 1 - co-occurrence cosine) and
  catalogue coverage. Saves ``<out>/diversity_<dataset>.png``.
- ``coldstart``: the synthetic shop split in time (last 20% of time = test, its purchases
  are the targets); NDCG@10 of the hybrid (as the Engine serves it: shoppers with no prior
  event get popular items) and of popular, by the shopper's number of prior events
  (0, 1, 2-4, 5+), and HR@10 on targets that are items first seen in the test period.
- ``cost``: a Beauty-sized shop (Amazon Beauty, all events) in a SQLite Engine home:
  ``shelfwise train -m hybrid`` time, then p50 / p99 of ``Engine.recommend`` for one shopper.

Run:  .venv/bin/python benchmarks/pipeline.py [--sections curve coldstart cost]
      [--datasets synthetic grocery] [--seq-minutes 5] [--out reports/pipeline]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_amazon, load_amazon_grocery
from shelfwise.data.splits import leave_one_out, temporal_split
from shelfwise.data.synthetic import generate_shop
from shelfwise.evaluation.beyond import coverage, intra_list_diversity
from shelfwise.evaluation.harness import score_lists, truth_from
from shelfwise.models import create
from shelfwise.ranking.diversity import attribute_similarity, mmr

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LAMBDAS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0)


def _dataset(name: str):
    if name == "synthetic":
        shop = generate_shop(n_users=3000, n_items=1500, seed=7)
        return shop.events, shop.items
    ds = load_amazon_grocery(DATA / "amazon-grocery")
    return ds.events, ds.items


def _hybrid(train: Interactions, seq_minutes: float):
    model = create("hybrid", retriever_params={"sasrec": {"max_minutes": seq_minutes}})
    start = time.perf_counter()
    model.fit(train)
    print(f"  hybrid fitted in {time.perf_counter() - start:.0f} s on {train.n_events:,} events")
    return model


def curve(name: str, seq_minutes: float, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events, items = _dataset(name)
    split = leave_one_out(events)
    train = Interactions.from_events(split.train, items=items)
    users, truth = truth_from(split.test, train)
    hybrid = _hybrid(train, seq_minutes)
    pool, scores = hybrid.recommend(users, 50)
    sim = attribute_similarity(train.items, pool)
    print(f"\n== {name}: accuracy vs diversity, MMR over the hybrid's top 50 ({len(users):,} shoppers) ==")
    print(f"{'lambda':>7}{'NDCG@10':>9}{'ILD cat':>9}{'ILD co':>8}{'coverage':>10}")
    rows = []
    for lam in LAMBDAS:
        lists = mmr(pool, scores, sim, 10, lam=lam)[0] if lam < 1 else pool[:, :10]
        ndcg = score_lists(lists, truth, train, ks=(10,))["ndcg@10"]
        list_sim = attribute_similarity(train.items, lists)
        k = (lists >= 0).sum(1)
        pairs = np.maximum(k * (k - 1), 1)
        ild_cat = float(np.mean(1 - (list_sim.sum((1, 2)) - np.einsum("bii->b", list_sim)) / pairs))
        row = {"lambda": lam, "ndcg@10": ndcg, "ild_catalogue": ild_cat,
               "ild_cooccurrence": intra_list_diversity(lists, train.binary),
               "coverage": coverage(lists, train.n_items)}
        rows.append(row)
        print(f"{lam:>7.1f}{ndcg:>9.4f}{ild_cat:>9.3f}{row['ild_cooccurrence']:>8.3f}{row['coverage']:>10.3f}",
              flush=True)
    frame = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, col, label in ((axes[0], "ild_catalogue", "intra-list diversity (1 - catalogue similarity)"),
                           (axes[1], "coverage", "catalogue coverage")):
        ax.plot(frame[col], frame["ndcg@10"], marker="o")
        for _, r in frame.iterrows():
            ax.annotate(f"{r['lambda']:.1f}", (r[col], r["ndcg@10"]), fontsize=7)
        ax.set_xlabel(label)
        ax.set_ylabel("NDCG@10")
    fig.suptitle(f"{name}: hybrid + MMR, lambda from 1 (relevance) to 0 (diversity)")
    out.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out / f"diversity_{name}.png", dpi=110)
    print(f"  plot: {out / f'diversity_{name}.png'}")


def coldstart(seq_minutes: float) -> None:
    shop = generate_shop(n_users=3000, n_items=1500, seed=11)
    split = temporal_split(shop.events, test_fraction=0.2)
    all_items = shop.items["item_id"].astype(str).to_numpy(dtype=object)
    train = Interactions.from_events(split.train, items=shop.items, item_ids=all_items)
    test = split.test[split.test["event_type"] == "purchase"]
    prior = split.train.groupby("user_id").size()
    hybrid = _hybrid(train, seq_minutes)
    popular = create("popular").fit(train)
    pop_list = popular.recommend(np.array([0]), 10, exclude_seen=False)[0][0]
    new_items = set(all_items[train.item_popularity() == 0])
    print(f"\n== cold start (synthetic shop, temporal split: {len(test):,} test purchases, "
          f"{len(new_items):,} items first seen in the test period) ==")
    print(f"{'prior events':<14}{'shoppers':>9}{'hybrid':>9}{'popular':>9}")
    uids = test["user_id"].unique()
    n_prior = prior.reindex(uids).fillna(0).to_numpy()
    buckets = {"0": n_prior == 0, "1": n_prior == 1, "2-4": (n_prior >= 2) & (n_prior <= 4),
               "5+": n_prior >= 5}
    known = train.users_to_indices(uids)
    lists = np.tile(pop_list, (len(uids), 1))
    has = known >= 0
    lists[has] = hybrid.recommend(known[has], 10)[0]
    truth = [train.items_to_indices(g["item_id"]) for _, g in test.groupby("user_id", sort=False)]
    order = {u: k for k, u in enumerate(test["user_id"].drop_duplicates())}
    truth = [truth[order[u]] for u in uids]
    pop_lists = np.tile(pop_list, (len(uids), 1))
    for label, sel in buckets.items():
        if not sel.any():
            continue
        t = [truth[k] for k in np.flatnonzero(sel)]
        h = score_lists(lists[sel], t, train, ks=(10,))["ndcg@10"]
        p = score_lists(pop_lists[sel], t, train, ks=(10,))["ndcg@10"]
        print(f"{label:<14}{sel.sum():>9,}{h:>9.4f}{p:>9.4f}")
    new_idx = train.items_to_indices(sorted(new_items))
    hits = total = 0
    for k in range(len(uids)):
        wanted = np.intersect1d(truth[k], new_idx)
        total += len(wanted)
        hits += len(np.intersect1d(wanted, lists[k]))
    print(f"new items: {total} test purchases of items first seen in the test period; "
          f"HR@10 on them {hits / max(total, 1):.4f} (popular: 0, it cannot rank them)")


def cost(seq_minutes: float) -> None:
    from shelfwise.config import Settings
    from shelfwise.engine import Engine

    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=home))
        ds = load_amazon(DATA / "amazon-beauty", "Beauty")
        engine.import_dataset(ds)
        start = time.perf_counter()
        engine.train(["hybrid"], params={"hybrid": {"retriever_params": {"sasrec": {"max_minutes": seq_minutes}}}})
        fit_s = time.perf_counter() - start
        users = pd.unique(ds.events["user_id"])[::50][:400]
        engine.recommend(str(users[0]), 10)  # loads the models
        ms = []
        for u in users:
            t0 = time.perf_counter()
            engine.recommend(str(u), 10)
            ms.append(1000 * (time.perf_counter() - t0))
        print(f"\n== cost (Amazon Beauty in SQLite: {len(ds.events):,} events) ==")
        print(f"train -m hybrid (both stages, popular fallback): {fit_s:.0f} s")
        print(f"Engine.recommend, one shopper, in-process ({len(ms)} calls): p50 {np.percentile(ms, 50):.1f} ms, "
              f"p99 {np.percentile(ms, 99):.1f} ms (target p99 <= 20 ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", nargs="+", default=["curve", "coldstart", "cost"],
                    choices=["curve", "coldstart", "cost"])
    ap.add_argument("--datasets", nargs="+", default=["synthetic", "grocery"], choices=["synthetic", "grocery"],
                    help="datasets of the diversity curve (they have category paths)")
    ap.add_argument("--seq-minutes", type=float, default=5.0, help="training budget of the sequence retriever")
    ap.add_argument("--out", type=Path, default=Path("reports/pipeline"))
    args = ap.parse_args()
    if "curve" in args.sections:
        for d in args.datasets:
            curve(d, args.seq_minutes, args.out)
    if "coldstart" in args.sections:
        coldstart(args.seq_minutes)
    if "cost" in args.sections:
        cost(args.seq_minutes)


if __name__ == "__main__":
    main()
