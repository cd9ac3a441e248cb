"""A sequential recommender trained on several processes (``processes`` > 1): PyTorch's
``DistributedDataParallel`` over gloo (CPU), the processes started by ``torchrun``.

The fitting process prepares the training set as it does for one process (``TrainingSet``),
writes it, the parameters and the random streams' states to a private temporary folder, and
runs ``python -m torch.distributed.run --standalone --nproc_per_node=N -m
shelfwise.models.seq_distributed <folder>`` (torchrun's module form, with this interpreter).
Every rank reads the folder, builds the network from the same seed and runs the same loop
(``SequenceTraining._train``): the ranks draw the same batches; each computes the loss on
its share of a batch's rows and DDP averages the gradients, so one step of N ranks is the
one-process step on the whole batch (to float summation order; dropout draws differ). Each
rank validates its share of the validation users; the NDCG and every stop decision (patience,
the time budget) are summed over the ranks, so all stop at the same batch. Rank 0 writes
the weights, which the fitting process loads into an ordinary model: what is saved and served
cannot tell how many processes trained it.

The time budget ``max_minutes`` counts from the launch, so the ranks' start-up is inside it.
An error in a rank ends the run (torchrun stops the others) and is raised in the fitting
process with the rank's message; a run past its budget by ``GRACE_S`` is stopped.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

from shelfwise.models.seq_data import TrainingSet

#: seconds a run may take past its time budget (start-up, the last validation, writing the
#: weights) before it is stopped as hung; also the ranks' timeout for one collective call
GRACE_S = 300.0
EPOCH_LINE = "shelfwise-epoch "  # rank 0's stdout line per epoch, for on_epoch and verbose


class Ranks:
    """The training loop's peers (``seq_training.OneProcess``'s interface) over
    ``torch.distributed``: this rank's share of rows, and sums over all ranks."""

    def __init__(self, rank: int, world: int):
        self.rank, self.world = rank, world

    def share(self, n: int) -> np.ndarray:
        return np.array_split(np.arange(n), self.world)[self.rank]

    def total(self, values: list[float]) -> np.ndarray:
        import torch
        import torch.distributed as dist

        out = torch.tensor([float(v) for v in values], dtype=torch.float64)
        dist.all_reduce(out)  # sum
        return out.numpy()


# -- the fitting process ------------------------------------------------------------------
def fit_on_ranks(model, data: TrainingSet, rng, ties) -> tuple[dict, list, float]:
    """Train ``model``'s network on ``data`` in ``model.processes`` processes, continuing the
    random streams ``rng`` and ``ties``; (state_dict, history, best validation NDCG@10)."""
    import torch

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="shelfwise-ddp-") as tmp:
        folder = Path(tmp)
        data.save(folder / "data.npz")
        if model.attributes_ is not None:
            np.save(folder / "attributes.npy", model.attributes_)
        job = {"class": [type(model).__module__, type(model).__qualname__],
               "params": model.get_params(), "n_attributes": int(model.n_attributes_),
               "rng": rng.bit_generator.state, "ties": ties.bit_generator.state,
               "started": started}
        (folder / "job.json").write_text(json.dumps(job))
        launch(folder, model.processes, model.max_minutes * 60 + GRACE_S,
               lambda line: _epoch_line(model, line))
        result = json.loads((folder / "result.json").read_text())
        with np.load(folder / "weights.npz", allow_pickle=False) as z:
            state = {k: torch.from_numpy(z[k].copy()) for k in z.files}
    return state, result["history"], result["best"]


def _epoch_line(model, line: str) -> None:
    if not line.startswith(EPOCH_LINE):
        return
    epoch = json.loads(line[len(EPOCH_LINE):])
    if model.verbose:
        print(epoch, flush=True)
    if model._on_epoch is not None:
        model._on_epoch(epoch["epoch"], epoch["val_ndcg@10"])


def launch(folder: Path, processes: int, timeout_s: float, on_line=None) -> None:
    """Run the ranks on ``folder`` under torchrun, passing rank 0's stdout lines to
    ``on_line``; raises RuntimeError with a rank's error if one fails, TimeoutError past
    ``timeout_s``, and whatever ``on_line`` raises (the ranks are stopped first)."""
    src = str(Path(__file__).resolve().parents[2])  # this package's copy, whatever the cwd
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={processes}", "-m", "shelfwise.models.seq_distributed",
            str(folder)]
    timed_out = threading.Event()
    with (folder / "ranks.log").open("wb") as log:
        # bandit B603: this interpreter running torch's launcher on our module, no shell
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, env=env, text=True,  # nosec B603
                                start_new_session=True)
        timer = threading.Timer(timeout_s, lambda: (timed_out.set(), _stop(proc)))
        timer.daemon = True
        timer.start()
        try:
            for line in proc.stdout:
                if on_line is not None:
                    on_line(line)
            proc.wait()
        except BaseException:
            _stop(proc)
            raise
        finally:
            timer.cancel()
            proc.stdout.close()
    if timed_out.is_set():
        raise TimeoutError(f"distributed training ran past {timeout_s:.0f} s and was stopped: "
                           f"{_tail(folder / 'ranks.log')}")
    if proc.returncode != 0:
        errors = sorted(folder.glob("error-*.txt"))
        reason = errors[0].read_text() if errors else _tail(folder / "ranks.log")
        raise RuntimeError(f"distributed training failed (torchrun exit {proc.returncode}): "
                           f"{reason}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop torchrun and its ranks (their own session, started by ``launch``)."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # torchrun passes it on to the ranks
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 5) -> str:
    return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])


# -- one rank -------------------------------------------------------------------------------
def train_rank(folder: Path) -> None:
    """One rank's training on ``folder`` (written by ``fit_on_ranks``): in a process group
    already set up by its launcher, or else one joined from the environment torchrun gives
    (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT); LOCAL_WORLD_SIZE, if set, is the number of
    ranks sharing this machine's cores."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    job = json.loads((folder / "job.json").read_text())
    own_group = not dist.is_initialized()
    if own_group:
        dist.init_process_group("gloo", timeout=timedelta(seconds=GRACE_S))
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        # the machine's cores split between the ranks on it (torchrun's default is one thread)
        local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
        module, name = job["class"]
        model = getattr(importlib.import_module(module), name)(**{**job["params"], "verbose": False})
        data = TrainingSet.load(folder / "data.npz")
        attributes = folder / "attributes.npy"
        model.attributes_ = np.load(attributes) if attributes.exists() else None
        model.n_attributes_, model.n_items_ = job["n_attributes"], data.n_items
        model.loss_ = "ce" if model.loss == "auto" else model.loss
        rng, ties = np.random.default_rng(), np.random.default_rng()
        rng.bit_generator.state, ties.bit_generator.state = job["rng"], job["ties"]
        torch.manual_seed(model.seed)  # the one-process model's initial weights
        net = model._build_net(data.n_items, model.attributes_, model.n_attributes_)
        # the attribute table is a constant buffer: nothing to broadcast at every step
        ddp = DistributedDataParallel(net, broadcast_buffers=False)
        torch.manual_seed(model.seed + 1 + rank)  # each rank its own dropout draws
        if rank == 0:
            model._on_epoch = lambda epoch, ndcg: print(
                EPOCH_LINE + json.dumps({"epoch": epoch, "val_ndcg@10": ndcg}), flush=True)
        start = time.perf_counter() - (time.time() - job["started"])  # the launch, in this clock
        history, best = model._train(ddp, data, rng, ties, start, Ranks(rank, world))
        if rank == 0:
            np.savez(folder / "weights.npz", **{k: v.numpy() for k, v in net.state_dict().items()})
            (folder / "result.json").write_text(json.dumps({"history": history, "best": best}))
        dist.barrier()
    finally:
        if own_group:
            dist.destroy_process_group()


def main(folder: str) -> None:
    try:
        train_rank(Path(folder))
    except BaseException as exc:
        # the fitting process raises the first rank's message (torchrun's own is a summary)
        (Path(folder) / f"error-{os.environ.get('RANK', '?')}.txt").write_text(
            f"rank {os.environ.get('RANK', '?')}: {type(exc).__name__}: {exc}")
        raise


if __name__ == "__main__":
    main(sys.argv[1])
