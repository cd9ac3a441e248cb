"""The hybrid pipeline beyond accuracy tables: the accuracy-versus-diversity curve, cold
start, and what it costs to fit and to serve one shopper in-process.

- ``curve``: the hybrid's top 50 per shopper re-ranked by MMR (catalogue similarity: category
  path and brand) as lambda sweeps 1 -> 0; NDCG@10 (leave-one-out, full ranking) against
  intra-list diversity (1 - catalogue similarity, and 1 - co-occurrence cosine) and
  catalogue coverage. Saves ``<out>/diversity_<dataset>.png``.
- ``coldstart`` (``--coldstart-dataset``, default Amazon Grocery): 1,000 shoppers left out
  of training; NDCG@10 of the next item after each of their first k events (k = 0, 1, 2-4,
  5+), from those k events alone, for the hybrid's live path and popular (k = 0 is the
  popular list, as served to an unknown shopper); and NDCG@10 on targets that are items
  first seen in the last 10% of time, left out of training but in the catalogue (hybrid,
  its content retriever alone; popular cannot rank them).
- ``cost``: a Beauty-sized shop (Amazon Beauty, all events) in a SQLite Engine home:
  ``shelfwise train -m hybrid`` time, then p50 / p99 of ``Engine.recommend`` for one shopper,
  in a fresh process that loads the trained models, as a server does.

Run:  .venv/bin/python benchmarks/pipeline.py [--sections curve coldstart cost]
      [--datasets synthetic grocery] [--coldstart-dataset grocery] [--seq-minutes 5] [--out reports/pipeline]
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
from shelfwise.data.splits import leave_one_out
from shelfwise.data.synthetic import generate_shop
from shelfwise.evaluation.beyond import coverage, intra_list_diversity
from shelfwise.evaluation.harness import score_lists, truth_from
from shelfwise.models import create
from shelfwise.models.base import top_n
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


def coldstart(name: str, seq_minutes: float, n_cold: int = 1000, max_prefix: int = 10) -> None:
    """Shoppers: ``n_cold`` shoppers with 6+ events are left out of training entirely; for each
    prefix of their first k events (k = 0 .. ``max_prefix``) the next event's item is the
    target, ranked over the whole catalogue from that prefix alone (the live path: what the
    Engine serves a shopper whose k events arrived after the last retrain; k = 0 gets the
    popular list, as the Engine serves an unknown shopper). Items: items first seen in the
    last 10% of the log's time lose all their events from training but stay in the catalogue;
    each remaining shopper's first event on one of them is the target, ranked from that
    shopper's events before it."""
    events, items = _dataset(name)
    events = events.sort_values("timestamp", kind="stable")
    all_items = items["item_id"].astype(str).to_numpy(dtype=object)
    rng = np.random.default_rng(0)
    sizes = events.groupby("user_id").size()
    cold = set(rng.choice(sizes.index[sizes >= 6].to_numpy(), size=min(n_cold, int((sizes >= 6).sum())),
                          replace=False))
    first_seen = events.groupby("item_id")["timestamp"].min()
    cut = events["timestamp"].quantile(0.9)
    new_items = set(first_seen.index[first_seen >= cut])
    train_events = events[~events["user_id"].isin(cold) & ~events["item_id"].isin(new_items)]
    train = Interactions.from_events(train_events, items=items, item_ids=all_items)
    hybrid = _hybrid(train, seq_minutes)
    pop_list = create("popular").fit(train).recommend(np.array([0]), 10, exclude_seen=False)[0][0]

    def gain(history: pd.DataFrame, target: str, model) -> float:
        idx = train.items_to_indices(history["item_id"].to_numpy(dtype=object))
        if model is None:
            top = pop_list
        else:
            top = model.rank_history(idx, history["event_type"].tolist(),
                                     history["timestamp"].to_numpy(np.float64), 10).items
        hit = np.flatnonzero(top == train.item_index[target])
        return float(1 / np.log2(hit[0] + 2)) if len(hit) else 0.0

    buckets = {"0": [], "1": [], "2-4": [], "5+": []}
    for _, g in events[events["user_id"].isin(cold)].groupby("user_id", sort=False):
        for k in range(min(len(g) - 1, max_prefix) + 1):
            label = "0" if k == 0 else "1" if k == 1 else "2-4" if k <= 4 else "5+"
            target = str(g["item_id"].iloc[k])
            history = g.iloc[:k]
            buckets[label].append((gain(history, target, hybrid if k else None), gain(history, target, None)))
    print(f"\n== cold start ({name}: {len(cold):,} shoppers left out of training; next item after "
          f"their first k events, full ranking) ==")
    print(f"{'prior events':<14}{'targets':>9}{'hybrid':>9}{'popular':>9}")
    for label, rows in buckets.items():
        h, p = np.mean(rows, axis=0) if rows else (np.nan, np.nan)
        print(f"{label:<14}{len(rows):>9,}{h:>9.4f}{p:>9.4f}")
    content = hybrid.retrievers_[[n for n, _, _ in hybrid.retrievers_].index("content")][1] \
        if any(n == "content" for n, _, _ in hybrid.retrievers_) else None
    rows = []
    warm = events[~events["user_id"].isin(cold)]
    for _, g in warm.groupby("user_id", sort=False):
        at = np.flatnonzero(g["item_id"].isin(new_items).to_numpy())
        if len(at) == 0 or at[0] == 0:
            continue
        history = g.iloc[:at[0]]
        history = history[~history["item_id"].isin(new_items)]
        target = str(g["item_id"].iloc[at[0]])
        h = gain(history, target, hybrid)
        c = 0.0
        if content is not None:
            idx = train.items_to_indices(history["item_id"].to_numpy(dtype=object))
            scores = content.score_histories([idx], [history["event_type"].tolist()],
                                             [history["timestamp"].to_numpy(np.float64)])[0]
            top = top_n(scores[None, :], 10)[0][0]
            hit = np.flatnonzero(top == train.item_index[target])
            c = float(1 / np.log2(hit[0] + 2)) if len(hit) else 0.0
        rows.append((h, c))
    h, c = np.mean(rows, axis=0) if rows else (np.nan, np.nan)
    print(f"new items ({len(new_items):,} first seen in the last 10% of time, no training event): "
          f"{len(rows):,} targets; NDCG@10 hybrid {h:.4f}, content alone {c:.4f}, popular 0 "
          f"(it cannot rank an item nobody has bought)")


def _latency(home: str, users: list[str]) -> list[float]:
    """Milliseconds of ``Engine.recommend`` per shopper, in a process that only loads and
    serves, as ``shelfwise serve`` does (the training process's heap is not a server's)."""
    from shelfwise.config import Settings
    from shelfwise.engine import Engine
    from shelfwise.serving import one_core_per_request

    engine = Engine(Settings(home=home))
    engine.recommend(users[0], 10, model="hybrid")  # loads the models
    one_core_per_request()  # as `shelfwise serve` does once its models are loaded
    ms = []
    for u in users:
        t0 = time.perf_counter()
        engine.recommend(u, 10, model="hybrid")
        ms.append(1000 * (time.perf_counter() - t0))
    return ms


def cost(seq_minutes: float) -> None:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from shelfwise.config import Settings
    from shelfwise.engine import Engine

    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=home))
        ds = load_amazon(DATA / "amazon-beauty", "Beauty")
        engine.import_dataset(ds)
        start = time.perf_counter()
        engine.train(["hybrid"], params={"hybrid": {"retriever_params": {"sasrec": {"max_minutes": seq_minutes}}}})
        fit_s = time.perf_counter() - start
        ranker = engine.versions.load("hybrid")[0].fusion_
        trees = ranker.booster_.num_trees() if hasattr(ranker, "booster_") else 0
        users = [str(u) for u in pd.unique(ds.events["user_id"])[::50][:400]]
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            ms = pool.submit(_latency, home, users).result()
        print(f"\n== cost (Amazon Beauty in SQLite: {len(ds.events):,} events) ==")
        print(f"train -m hybrid (both stages, popular fallback): {fit_s:.0f} s; the ranker stopped at "
              f"{trees} trees (its cost per list, and of the reasons' TreeSHAP, grows with them)")
        print(f"Engine.recommend, one shopper, in a serving process ({len(ms)} calls): p50 "
              f"{np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms (target p99 <= 20 ms)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", nargs="+", default=["curve", "coldstart", "cost"],
                    choices=["curve", "coldstart", "cost"])
    ap.add_argument("--datasets", nargs="+", default=["synthetic", "grocery"], choices=["synthetic", "grocery"],
                    help="datasets of the diversity curve (they have category paths)")
    ap.add_argument("--coldstart-dataset", default="grocery", choices=["synthetic", "grocery"])
    ap.add_argument("--seq-minutes", type=float, default=5.0, help="training budget of the sequence retriever")
    ap.add_argument("--out", type=Path, default=Path("reports/pipeline"))
    args = ap.parse_args()
    if "curve" in args.sections:
        for d in args.datasets:
            curve(d, args.seq_minutes, args.out)
    if "coldstart" in args.sections:
        coldstart(args.coldstart_dataset, args.seq_minutes)
    if "cost" in args.sections:
        cost(args.seq_minutes)


if __name__ == "__main__":
    main()
