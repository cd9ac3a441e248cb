"""Item-kNN's similarity on big catalogues: the whole x^T x then its top k per row (as before
``models.gram``) against blocks of rows cut to their top k one at a time (as now).

Datasets as in ``big_catalogue.py`` (Taobao's 2-hour slice, ``union`` of the shared ordered
logs, the synthetic shop), their whole training matrix (the leave-one-out split's train
part, so the same matrix the accuracy benchmarks fit). Each run is a fresh process, so the
peak resident memory (the rise over the process's RSS before the call, sampled every 5 ms
by ``evaluation.cost.measure``) is not hidden by memory an earlier run freed. "whole" is
the same code with one block for every row, i.e. the former algorithm. The script checks
that both give the same matrix bit for bit.

Run:  .venv/bin/python benchmarks/item_knn_memory.py [--datasets taobao union synthetic]
      [--k 100] [--synthetic-items 120000] [--synthetic-users 3000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys

import numpy as np

from shelfwise.data.interactions import Interactions
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.cost import measure
from shelfwise.models.gram import MAX_BLOCK_ENTRIES, gram_row_blocks
from shelfwise.models.knn import _prepare, cosine_neighbours

WHOLE = 1 << 62  # a bound no block reaches: one block, the whole product


def one(dataset: str, variant: str, k: int, n_items: int, n_users: int) -> dict:
    from big_catalogue import events_of  # beside this script

    events, catalogue = events_of(dataset, n_items, n_users)
    train = Interactions.from_events(leave_one_out(events, by="item").train, items=catalogue)
    x = _prepare(train, "cosine", True)
    bound = WHOLE if variant == "whole" else MAX_BLOCK_ENTRIES
    with measure() as cost:
        sim = cosine_neighbours(x, k, 10.0, max_block_entries=bound)
    digest = hashlib.sha1(sim.indptr.tobytes() + sim.indices.astype(np.int64).tobytes()
                          + sim.data.tobytes()).hexdigest()
    out = {"items": train.n_items, "users": train.n_users, "nnz_x": int(x.nnz), "kept": int(sim.nnz),
           "seconds": cost.seconds, "peak_mb": cost.peak_mb, "digest": digest,
           "blocks": sum(1 for _ in gram_row_blocks(x, bound)) if variant == "blocks" else 1}
    if variant == "whole":  # entries of the whole product, off the diagonal included
        xc = x.tocsc()
        out["nnz_gram"] = int((xc.T @ xc).nnz)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["taobao", "union", "synthetic"],
                    choices=["taobao", "union", "synthetic"])
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--synthetic-items", type=int, default=120_000)
    ap.add_argument("--synthetic-users", type=int, default=3_000)
    ap.add_argument("--one", nargs=2, metavar=("DATASET", "VARIANT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.k, args.synthetic_items, args.synthetic_users)))
        return
    print(f"{'dataset':<10}{'items':>9}{'nnz(x)':>11}{'nnz(xTx)':>12}{'kept':>11}{'variant':>8}"
          f"{'blocks':>7}{'fit s':>8}{'peak MB':>9}  same bits")
    for d in args.datasets:
        rows = {}
        for variant in ("whole", "blocks"):
            cmd = [sys.executable, __file__, "--one", d, variant, "--k", str(args.k),
                   "--synthetic-items", str(args.synthetic_items), "--synthetic-users", str(args.synthetic_users)]
            rows[variant] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True)
                                       .stdout.splitlines()[-1])
        same = rows["whole"]["digest"] == rows["blocks"]["digest"]
        for variant, r in rows.items():
            print(f"{d:<10}{r['items']:>9,}{r['nnz_x']:>11,}{rows['whole']['nnz_gram']:>12,}{r['kept']:>11,}"
                  f"{variant:>8}{r['blocks']:>7}{r['seconds']:>8.1f}{r['peak_mb']:>9.0f}  {same}", flush=True)


if __name__ == "__main__":
    main()
