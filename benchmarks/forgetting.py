"""Forgetting a shopper: from ``DELETE /users/{id}`` on a real server to their absence from
every process and every model file, and to the background refit that completes it.

Setup: a synthetic shop (and, with ``--dataset retail``, UCI Online Retail France, a real
log read in place from ../shared/data) in a SQLite store, the models trained twice (two kept
versions, as after a retrain), ``shelfwise serve`` on a free port sharing its online state
through Redis with a second process (this one, which has loaded every model). For each of
``--deletions`` shoppers (the heaviest first: the most to take out):

1. ``DELETE`` response time: the store rows, every kept version's model files rewritten
   (``privacy.unlearning``: count-based models recomputed exactly, the others' own rows
   emptied), the online state;
2. absence: until the server and the second process both serve the id as an unknown shopper
   and every model file of every kept version holds nothing in the shopper's row (each
   file opened and checked);
3. the background refit (``privacy.forget_refit_delay_seconds`` = 0 here): until
   ``/healthz`` shows no deletion pending, i.e. a training run of every serving model
   without the shopper serves and the versions that held them are deleted.

Peers, as the issue anchors them: AWS Personalize deletes a user within a day and then needs
a retrain; Gorse deletes the feedback rows and keeps the user in its models and cached lists
until the next fit.

Run: ``.venv/bin/python benchmarks/forgetting.py`` (``--users 2000 --items 1000``,
``--models popular itemknn userknn rules ease als``; add ``sasrec`` or ``hybrid`` to see a
slower refit; ``--dataset retail`` for the real log).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PEERS = [("AWS Personalize", "within a day", "a retrain (hours)"),
         ("Gorse", "feedback rows at once; models and cached lists keep the user", "until the next fit")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rows_left(home: Path, rows: dict[str, int]) -> list[str]:
    """The files of the kept versions that still hold something in the shopper's row."""
    import scipy.sparse as sp

    from shelfwise.data.interactions import Interactions

    left = []
    for version, row in rows.items():
        folder = home / "versions" / version
        if not folder.exists():  # deleted by the refit: nothing left there
            continue
        view = Interactions.load(folder / "view")
        if view.matrix[row].nnz or view.seq_indptr[row] != view.seq_indptr[row + 1]:
            left.append(f"{version}/view")
        for state in folder.rglob("state.npz"):
            z = np.load(state, allow_pickle=False)
            for key in z.files:
                if key.endswith(".shape") and z[key][0] == view.n_users:
                    base = key[:-6]
                    m = sp.csr_matrix((z[f"{base}.data"], z[f"{base}.indices"], z[f"{base}.indptr"]),
                                      shape=tuple(z[key]))
                    held = m[row].nnz > 0
                elif "." not in key and z[key].ndim and z[key].shape[0] == view.n_users:
                    held = bool(np.any(z[key][row]))
                else:
                    continue
                if held:
                    left.append(f"{state.parent.relative_to(home)}:{base if key.endswith('.shape') else key}")
    return left


def _model_costs(folder: Path, user: str) -> list[tuple[str, bool, float]]:
    """(model, exact, seconds to load, forget and save it) for one shopper in a copy of one
    version: what ``DELETE`` spends per model and per kept version."""
    from shelfwise.data.interactions import Interactions
    from shelfwise.models.base import Recommender

    copy = Path(tempfile.mkdtemp(prefix="shelfwise-forget-cost-")) / folder.name
    shutil.copytree(folder, copy)
    view = Interactions.load(copy / "view")
    out = []
    for name in json.loads((copy / "run.json").read_text())["models"]:
        t = time.perf_counter()
        model = Recommender.load(copy / name)
        model.forget_users([view.user_index[user]], view)
        model.save(copy / name)
        out.append((name, model.forgets_exactly, time.perf_counter() - t))
    shutil.rmtree(copy.parent, ignore_errors=True)
    return out


def _events(dataset: str, users: int, items: int):
    if dataset == "retail":
        from shelfwise.data.loaders import load_online_retail

        ds = load_online_retail(DATA / "online-retail/france.csv")
        return ds.events, ds.items, "UCI Online Retail, France"
    from shelfwise.data.synthetic import generate_shop

    shop = generate_shop(n_users=users, n_items=items, seed=1)
    return shop.events, shop.items, f"synthetic shop, {users:,} shoppers x {items:,} items"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=["synthetic", "retail"], default="synthetic")
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--models", nargs="+", default=["popular", "itemknn", "userknn", "rules", "ease", "als"])
    ap.add_argument("--deletions", type=int, default=3)
    ap.add_argument("--online-url", default="redis://127.0.0.1:6379/0")
    args = ap.parse_args()

    import httpx

    from shelfwise.api.keys import KeyStore
    from shelfwise.config import Settings
    from shelfwise.data.interactions import Interactions
    from shelfwise.engine import Engine

    tmp = Path(tempfile.mkdtemp(prefix="shelfwise-forget-"))
    home, store = tmp / "home", f"sqlite:///{tmp / 'events.db'}"
    home.mkdir()
    # a short sequence-model budget, so a refit with sasrec stays minutes, not the default 15
    (home / "shelfwise.toml").write_text("[model_params.sasrec]\nmax_minutes = 1.0\n")
    namespace = f"bench-forget-{uuid.uuid4().hex[:8]}"
    settings = {"home": home, "store_url": store, "impressions": {"enabled": False},
                "online": {"url": args.online_url, "namespace": namespace}}
    events, items, label = _events(args.dataset, args.users, args.items)
    engine = Engine(Settings(**settings))
    engine.store.upsert_items(items)
    engine.ingest(events)
    t = time.perf_counter()
    engine.train(args.models)
    fit_s = time.perf_counter() - t
    engine.train(args.models)  # a second kept version, as after a retrain
    key = KeyStore(engine.store.engine).create("bench-forget", ["admin"])[1]
    print(f"{label}: {len(events):,} events; {', '.join(args.models)} trained in {fit_s:.1f} s; "
          f"two kept versions; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)

    port = _free_port()
    env = {**os.environ, "SHELFWISE_ONLINE__URL": args.online_url, "SHELFWISE_ONLINE__NAMESPACE": namespace,
           "SHELFWISE_IMPRESSIONS__ENABLED": "false", "SHELFWISE_PRIVACY__FORGET_REFIT_DELAY_SECONDS": "0",
           "SHELFWISE_PRIVACY__FORGET_REFIT_POLL_SECONDS": "0.2"}
    log = (tmp / "server.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "shelfwise.cli", "serve", "--port", str(port),
                               "--home", str(home), "--store-url", store], stdout=log, stderr=subprocess.STDOUT,
                              env=env)
    url = f"http://127.0.0.1:{port}"
    results = []
    try:
        client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600)
        for _ in range(600):
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        shoppers = events["user_id"].astype(str).value_counts().index[:args.deletions].tolist()
        costs = _model_costs(home / "versions" / engine.versions.list_versions()[-1], shoppers[0])
        model = "userknn" if "userknn" in args.models else args.models[-1]
        for user in shoppers:
            versions = engine.versions.list_versions()
            rows = {v: Interactions.load(home / "versions" / v / "view").user_index[user] for v in versions}
            assert client.get(f"/users/{user}/recommendations", params={"model": model}).json()["personalised"]
            assert engine.recommend(user, 10, model=model, log=False).personalised  # loaded here too
            start = time.perf_counter()
            response = client.delete(f"/users/{user}")
            response.raise_for_status()
            delete_s = time.perf_counter() - start
            while True:
                served = client.get(f"/users/{user}/recommendations", params={"model": model}).json()
                here = engine.recommend(user, 10, model=model, log=False)
                if served["fallback"] == here.fallback == "unknown shopper" and not _rows_left(home, rows):
                    break
                assert time.perf_counter() - start < 60, "the shopper is still served or still in a file"
            absent_s = time.perf_counter() - start
            while client.get("/healthz").json()["forget"]["pending"]:
                assert time.perf_counter() - start < 3600, "no refit within an hour"
                time.sleep(0.1)
            refit_s = time.perf_counter() - start
            results.append((user, len(versions), delete_s, absent_s, refit_s))
            print(f"  {len(results)}: DELETE {delete_s * 1000:.0f} ms, absent {absent_s * 1000:.0f} ms, "
                  f"refit done {refit_s:.1f} s", flush=True)
        status = client.get("/healthz").json()["forget"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        engine.close()

    print(f"\nforgetting over HTTP ({label}); models: exact at once {', '.join(status['exact']) or '-'}; "
          f"own rows dropped, then refitted: {', '.join(status['refit']) or '-'}")
    print(f"{'':4}{'versions':>9}{'DELETE ms':>11}{'absent ms':>11}{'refit s':>9}")
    for k, (_, n_versions, d, a, r) in enumerate(results, 1):
        print(f"{k:<4}{n_versions:>9}{d * 1000:>11.0f}{a * 1000:>11.0f}{r:>9.1f}")
    d, a, r = (np.median([row[i] for row in results]) for i in (2, 3, 4))
    print(f"{'med':<4}{'':>9}{d * 1000:>11.0f}{a * 1000:>11.0f}{r:>9.1f}")
    print("absent: the server and a second process serve the id as an unknown shopper, and no file of "
          "any kept version holds anything in the shopper's row (each opened and checked)")
    print("refit: a training run of every serving model without the shopper serves, and the versions "
          "that held them are deleted (/healthz forget.pending = 0)")
    print(f"\nper model, one kept version, the heaviest shopper (load, forget_users, save; "
          f"load {os.getloadavg()[0]:.1f}):")
    for name, exact, seconds in costs:
        print(f"  {name:20s} {'exact' if exact else 'own rows dropped':18s} {seconds * 1000:8.0f} ms")
    print("\npeers:")
    for name, gone, retrain in PEERS:
        print(f"  {name:16s} deletion: {gone}; out of the models: {retrain}")


if __name__ == "__main__":
    main()
