"""Approximate (HNSW, ``shelfwise.models.ann``) against exact top-n retrieval on ALS factors.

Source of the vectors: ALS (the model's defaults: 128 factors, 15 iterations) fitted on a
synthetic shop (``shelfwise.data.synthetic.generate_shop``) of ``--items`` items and
``--users-per-item`` x items shoppers (1M items: 200,000 shoppers, about 7.1M events). The
fitted exact model is saved under ``--cache`` and reused by later runs (the shop takes minutes
to make and fit at 1M items).

Per catalogue size: the index build time (the recommend index over the factors and the
similar-items index over unit-length factors), the recommend index's memory and serialised
size, and for each ``ann_ef_search``: recall@100 of ``recommend(users, 100)`` (seen items
excluded) against the exact lists, over ``--queries`` trained shoppers; queries/s one shopper a
call and in one batched call, ANN and exact; recall@100 of ``similar_items``. recall@100 =
|ANN list & exact list| / 100, averaged over queries.

Run:  .venv/bin/python benchmarks/ann.py [--items 100000 1000000] [--queries 1000]
      [--ef-search 128 512 1024] [--cache /tmp/shelfwise-ann]
The timings are wall clock on whatever else the machine runs: the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.data.synthetic import generate_shop
from shelfwise.models import create
from shelfwise.models.ann import HNSW_EF_CONSTRUCTION, HNSW_M, ItemIndex
from shelfwise.models.base import Recommender


def exact_model(n_items: int, n_users: int, cache: Path):
    """ALS fitted exactly (``ann_threshold=None``) on a synthetic shop, cached under ``cache``."""
    path = cache / f"als-{n_items}-{n_users}"
    if (path / "model.json").exists():
        return Recommender.load(path), None
    t = time.perf_counter()
    shop = generate_shop(n_users=n_users, n_items=n_items, seed=0)
    view = Interactions.from_events(shop.events, items=shop.items[["item_id"]])
    made = time.perf_counter() - t
    t = time.perf_counter()
    model = create("als", ann_threshold=None).fit(view)
    print(f"  shop {made:.0f} s ({view.n_events:,} events), ALS fit {time.perf_counter() - t:.0f} s",
          flush=True)
    model.save(path)
    return model, view.n_events


def recall(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a_row & b_row| / width over rows (-1 padding never counts)."""
    return float(np.mean([len(set(x[x >= 0]) & set(y[y >= 0])) / a.shape[1] for x, y in zip(a, b, strict=True)]))


def qps(call, users: np.ndarray, single: int) -> tuple[float, float]:
    """(queries/s one shopper a call over ``single`` shoppers, queries/s of one batched call)."""
    t = time.perf_counter()
    for u in users[:single]:
        call(np.array([u]))
    one = single / (time.perf_counter() - t)
    t = time.perf_counter()
    call(users)
    return one, len(users) / (time.perf_counter() - t)


def run(n_items: int, args) -> list[tuple]:
    n_users = int(n_items * args.users_per_item)
    print(f"\n== {n_items:,} items, {n_users:,} shoppers ==", flush=True)
    model, _ = exact_model(n_items, n_users, Path(args.cache))
    rng = np.random.default_rng(0)
    users = np.sort(rng.choice(model.n_users_, args.queries, replace=False))
    items = np.sort(rng.choice(model.n_items_, args.queries, replace=False))
    k = 100

    t = time.perf_counter()
    exact, _ = model.recommend(users, k)
    # in blocks: the exact similar_items holds a dense (len(items), n_items) matrix
    exact_sim = np.concatenate([model.similar_items(b, k)[0] for b in np.array_split(items, len(items) // 25 + 1)])
    print(f"  exact lists of {len(users):,} shoppers and items: {time.perf_counter() - t:.0f} s", flush=True)
    exact_one, exact_batch = qps(lambda u: model.recommend(u, k), users, args.single_exact)

    vectors, unit = model._ann_vectors()
    t = time.perf_counter()
    index = ItemIndex.build(vectors)
    build = time.perf_counter() - t
    t = time.perf_counter()
    similar = ItemIndex.build(unit)
    build_sim = time.perf_counter() - t
    arrays = index.to_arrays()
    size = sum(a.nbytes for a in arrays.values())
    t = time.perf_counter()
    ItemIndex.from_arrays(arrays)
    load = time.perf_counter() - t
    print(f"  HNSW M={HNSW_M} efConstruction={HNSW_EF_CONSTRUCTION}: built in {build:.0f} s "
          f"(+{build_sim:.0f} s the similar-items index), {index.nbytes / 2**20:,.0f} MiB in memory, "
          f"{size / 2**20:,.0f} MiB serialised, deserialised in {load:.1f} s\n  ranges: {index.describe()}",
          flush=True)
    model.ann_index_, model.ann_similar_ = index, similar  # what fit builds at this size

    rows = []
    for ef in args.ef_search:
        model.set_params(ann_ef_search=ef)
        got, _ = model.recommend(users, k)
        sim, _ = model.similar_items(items, k)
        one, batch = qps(lambda u: model.recommend(u, k), users, args.single)
        rows.append((n_items, ef, recall(got, exact), recall(sim, exact_sim), one, exact_one,
                     batch, exact_batch, build, index.nbytes / 2**20))
        print(f"  ef_search {ef}: recall@100 {rows[-1][2]:.4f}, similar {rows[-1][3]:.4f}, "
              f"{one:,.0f}/s single, {batch:,.0f}/s batched; load average {os.getloadavg()[0]:.1f}",
              flush=True)
    model.ann_index_ = model.ann_similar_ = None
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--users-per-item", type=float, default=0.2)
    ap.add_argument("--queries", type=int, default=1000, help="shoppers (and items) queried")
    ap.add_argument("--single", type=int, default=500, help="one-shopper ANN calls timed")
    ap.add_argument("--single-exact", type=int, default=100, help="one-shopper exact calls timed")
    ap.add_argument("--ef-search", type=int, nargs="+", default=[128, 512, 1024])
    ap.add_argument("--cache", default="/tmp/shelfwise-ann")
    args = ap.parse_args()
    rows = [r for n in args.items for r in run(n, args)]
    print(f"\n{os.cpu_count()} cores shared with other jobs; load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'items':>10} {'ef':>4} {'recall@100':>10} {'similar':>8} {'ANN q/s':>8} {'exact q/s':>9} "
          f"{'speed-up':>8} {'ANN batch':>9} {'exact batch':>11} {'speed-up':>8} {'build s':>7} {'MiB':>6}")
    for n, ef, rec, sim, one, ex_one, batch, ex_batch, build, mib in rows:
        print(f"{n:>10,} {ef:>4} {rec:>10.4f} {sim:>8.4f} {one:>8,.0f} {ex_one:>9,.1f} {one / ex_one:>7.0f}x "
              f"{batch:>9,.0f} {ex_batch:>11,.0f} {batch / ex_batch:>7.0f}x {build:>7.0f} {mib:>6,.0f}")
    print("single: one shopper a call (q/s); batch: all queried shoppers in one call (q/s); "
          "recall@100 against the exact lists, seen items excluded; build: the recommend index")


if __name__ == "__main__":
    main()
