"""Peers on the same split and machine: the ``implicit`` library's ALS called directly, next
to shelfwise's ALS (which wraps it) and shelfwise's best classic model.

Protocol: leave-one-out on Amazon Beauty / Toys, full ranking, history excluded. implicit's
own ``recommend(..., filter_already_liked_items=True)`` produces its lists; the same metric
code scores both.

With ``--recbole``, RecBole 1.2.1's SASRec runs too, in its own virtual environment, which
this script creates on first use from ``recbole-requirements.txt`` (pinned, installed with
``-c constraints.txt``). The same events are written as RecBole atomic files; RecBole makes
the same leave-one-out split by time, trains SASRec with CE loss (64 dims, 2 layers, max
length 50) for at most ``--recbole-epochs`` epochs, and reports its own full-ranking test
metrics. shelfwise's SASRec runs beside it on item ids alone (no attributes), as RecBole sees.
A training-cost table follows: epochs run, seconds per epoch (training and validation, wall
clock), and the epoch of best validation NDCG@10 (the early-stopping point) with the time
taken to reach it. Run with ``OMP_NUM_THREADS=1`` for one core each.

Run: .venv/bin/python benchmarks/peers.py [--datasets beauty toys]
     [--recbole --recbole-epochs 15 --recbole-venv .venv-recbole]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
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


RECBOLE_RUNNER = """
import json, sys, time
from recbole.quick_start import run_recbole
data, name, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = {
    "data_path": data, "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id",
    "TIME_FIELD": "timestamp", "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
    "MAX_ITEM_LIST_LENGTH": 50, "loss_type": "CE", "train_neg_sample_args": None,
    "hidden_size": 64, "inner_size": 256, "n_layers": 2, "n_heads": 2,
    "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full",
                  "group_by": "user"},
    "metrics": ["Hit", "NDCG", "MRR"], "topk": [10], "valid_metric": "NDCG@10",
    "epochs": epochs, "stopping_step": 3, "train_batch_size": 256, "eval_batch_size": 4096,
    "device": "cpu", "use_gpu": False, "show_progress": False, "seed": 0,
    "checkpoint_dir": data + "/saved", "state": "WARNING",
}
# time every training epoch and its validation, as shelfwise's history_ records them
from recbole.trainer.trainer import Trainer
epochs, train_epoch, valid_epoch = [], Trainer._train_epoch, Trainer._valid_epoch
def timed_train(self, *args, **kwargs):
    t = time.perf_counter()
    out = train_epoch(self, *args, **kwargs)
    epochs.append({"train_s": time.perf_counter() - t})
    return out
def timed_valid(self, *args, **kwargs):
    t = time.perf_counter()
    score, result = valid_epoch(self, *args, **kwargs)
    epochs[-1].update(valid_s=time.perf_counter() - t, valid=float(score))
    return score, result
Trainer._train_epoch, Trainer._valid_epoch = timed_train, timed_valid
t = time.perf_counter()
result = run_recbole(model="SASRec", dataset=name, config_dict=config)
print("RESULT " + json.dumps({"seconds": time.perf_counter() - t, "epochs": epochs,
                              "test": {k: float(v) for k, v in result["test_result"].items()}}))
"""


def cost_row(label: str, epoch_seconds: list[float], validation: list[float]) -> str:
    """Training cost from per-epoch wall-clock seconds (training + validation) and each
    epoch's validation NDCG@10: epochs run, seconds per epoch, the best validation epoch
    (the early-stopping point) and the seconds taken to reach it."""
    best = int(np.argmax(validation))
    per_epoch = float(np.mean(epoch_seconds))
    return (f"{label:<28}{len(epoch_seconds):>7}{per_epoch:>9.1f}{1 / per_epoch:>10.4f}"
            f"{best + 1:>8}{sum(epoch_seconds[:best + 1]):>10.0f}")


def recbole_python(venv: Path) -> str:
    """The interpreter of RecBole's virtual environment, created or updated from the pinned list."""
    requirements = Path(__file__).with_name("recbole-requirements.txt")
    python, stamp = venv / "bin" / "python", venv / ".installed"
    if not stamp.exists() or stamp.read_text() != requirements.read_text():
        print(f"creating RecBole's environment in {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"),
                        "-r", str(requirements)], check=True)
        stamp.write_text(requirements.read_text())
    return str(python)


def recbole_sasrec(python: str, events, epochs: int) -> dict:
    """Train RecBole's SASRec on the same events (atomic files, positions as time)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        folder.mkdir()
        inter = events[["user_id", "item_id", "timestamp"]].rename(columns={
            "user_id": "user_id:token", "item_id": "item_id:token", "timestamp": "timestamp:float"})
        inter.to_csv(folder / "data.inter", sep="\t", index=False)
        runner = Path(tmp) / "run_recbole.py"
        runner.write_text(RECBOLE_RUNNER)
        # RecBole 1.2.1 reloads the checkpoint it has just written with a plain torch.load,
        # which torch >= 2.6 refuses by default; that file is its own, so allow it there.
        env = {**os.environ, "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"}
        proc = subprocess.run([python, str(runner), str(Path(tmp)), "data", str(epochs)],
                              capture_output=True, text=True, cwd=tmp, env=env)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            raise RuntimeError(f"RecBole failed:\n{proc.stderr[-3000:]}")
        return json.loads(line[len("RESULT "):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--recbole", action="store_true", help="also run RecBole's SASRec (slow: ~1 h)")
    ap.add_argument("--recbole-epochs", type=int, default=15)
    ap.add_argument("--recbole-venv", type=Path, default=ROOT / ".venv-recbole")
    ap.add_argument("--seq-minutes", type=float, default=15.0, help="shelfwise SASRec's budget")
    args = ap.parse_args()
    python = recbole_python(args.recbole_venv) if args.recbole else None
    for name in args.datasets:
        folder, stem = DATASETS[name]
        events = load_amazon(DATA / folder, stem).events
        split = leave_one_out(events)
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
                  f"{r.fit_seconds:>8.1f}{r.ms_per_user_batch * len(users) / 1000:>13.1f}", flush=True)
        if python:
            sasrec = create("sasrec", max_minutes=args.seq_minutes)
            r = evaluate_model(sasrec, train, users, truth, ks=(10,))
            print(f"{'shelfwise sasrec (ids only)':<28}{r.metrics['hr@10']:>8.4f}"
                  f"{r.metrics['ndcg@10']:>9.4f}{r.fit_seconds:>8.0f}"
                  f"{r.ms_per_user_batch * len(users) / 1000:>13.1f}", flush=True)
            # RecBole makes its own leave-one-out split (by time) from the full event log
            rb = recbole_sasrec(python, events, args.recbole_epochs)
            label = f"RecBole SASRec ({args.recbole_epochs} ep max)"
            print(f"{label:<28}{rb['test']['hit@10']:>8.4f}{rb['test']['ndcg@10']:>9.4f}"
                  f"{rb['seconds']:>8.0f}{'':>13}", flush=True)
            print(f"\ntraining cost\n{'system':<28}{'epochs':>7}{'s/epoch':>9}{'epochs/s':>10}"
                  f"{'best ep':>8}{'to best s':>10}")
            seconds = np.diff([0.0] + [h["seconds"] for h in sasrec.history_])
            print(cost_row("shelfwise sasrec (ids only)", list(seconds),
                           [h["val_ndcg@10"] for h in sasrec.history_]))
            print(cost_row(label, [e["train_s"] + e.get("valid_s", 0.0) for e in rb["epochs"]],
                           [e.get("valid", -1.0) for e in rb["epochs"]]), flush=True)


if __name__ == "__main__":
    main()
