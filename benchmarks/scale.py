"""How each cost grows with the shop: synthetic shops of 1M, 2M, 4M, 8M events (and more).

For each size, each step runs in its own process (so peak memory is that step's), capped at
``--step-minutes`` (a step past its cap is recorded as "over cap" and not tried at larger
sizes: it is the first thing that breaks), and one JSON line per (size, step) is appended to
``--out`` as soon as the step ends, so a crash loses nothing measured before it.

Steps run in the order below, PostgreSQL's import last (``--order size``: all of one size,
then the next; ``--order step``: one step over every size, then the next), each capped in time
and at ``--max-rss-gb`` of resident memory (the step's process tree), past which it is stopped
and recorded as such:

- ``generate``: the shop, written as an events CSV. Users grow as events / 10.1 and items as
  events / 10 (capped at 1,000,000), so 10M events is about 1M shoppers and 1M items. Shoppers
  are generated in chunks of ``--chunk-users`` (``generate_shop`` with seed = chunk number,
  user ids offset), so memory stays that of one chunk; the chunks' catalogues share item ids
  but not popularity, so popularity is flatter than in one ``generate_shop`` call.
- ``import_sqlite`` / ``import_pg``: ``Engine.import_file`` of the CSV (what ``shelfwise
  import`` runs) into SQLite in the size's home, and into a PostgreSQL database of its own,
  created for the step and dropped after it (run last); events/s and the store's size on disk.
- ``train_<model>``: ``Engine.train([model])`` in one process (what ``shelfwise train`` runs,
  without the hold-out check, which is an evaluation), fit seconds and fit peak as the engine
  measures them, the step's wall time (reading the store included) and the model's files on
  disk. ``popular`` is fitted with every run (the engine's fallback) and not counted.
  sasrec, and the hybrid's sasrec retriever, train for ``--sasrec-minutes`` at most, so their
  fit time is that budget, not the time to converge.
- ``spark_<model>``: the same on Spark ``--master`` (``shelfwise train --engine spark``),
  session start and Parquet export inside the step's wall time.
- ``serve_precomputed_<model>`` / ``serve_plain_<model>``, for each of ``--serve-models``:
  ``shelfwise serve`` on the home with that model as the default; with precomputed lists (waiting at most
  ``--precompute-minutes`` for the first pass over every trained shopper: lists/s is printed)
  or with the list cache and precomputed lists off (every request scores); then
  ``GET /users/{id}/recommendations`` load from ``benchmarks/serve.py``'s load generator (wrk
  when installed) over 5,000 shoppers: requests/s, p50, p99.

Every row carries the 1-minute load average: the machine's 2 cores are shared with whatever
else runs, so timings are under that load. ``--plot`` reads the JSON lines, prints the table
and the slope of log(cost) against log(events) for each cost, and draws each cost against
events on log-log axes into ``--plots`` (``reports/scale/``).

Run:  nice -n 5 .venv/bin/python benchmarks/scale.py --events 1M 2M 4M 8M [--step-minutes 15]
      .venv/bin/python benchmarks/scale.py --plot [--out reports/scale/scale.jsonl]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # scale_plot beside this file

from scale_plot import parse_size, plot, table  # noqa: E402

LOCAL = ["popular", "itemknn", "rules", "als", "ease", "sasrec", "hybrid"]
SPARK = ["popular", "itemknn", "rules", "als"]
EVENTS_PER_USER = 10.1  # generate_shop(sessions_per_user=1.0) gives ~10.1 events a shopper
ITEMS_PER_EVENT = 0.1
MAX_ITEMS = 1_000_000
COLUMNS = ["user_id", "item_id", "event_type", "timestamp", "session_id", "value"]


def shop_shape(n_events: int) -> tuple[int, int]:
    """(shoppers, items) for a shop of about ``n_events`` events."""
    return max(1, round(n_events / EVENTS_PER_USER)), max(1, min(round(n_events * ITEMS_PER_EVENT), MAX_ITEMS))


def _du(path: Path) -> float:
    """MB on disk under ``path`` (a file or a folder)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


# -- steps (each runs in a child process and returns its figures) --------------------------------
def step_generate(args, work: Path) -> dict:
    from shelfwise.data.synthetic import generate_shop

    users, items = shop_shape(args.size)
    csv = work / "events.csv"
    csv.unlink(missing_ok=True)
    total = 0
    for k, start in enumerate(range(0, users, args.chunk_users)):
        shop = generate_shop(n_users=min(args.chunk_users, users - start), n_items=items,
                             sessions_per_user=1.0, seed=k)
        ev = shop.events
        ev["user_id"] = "U" + (ev["user_id"].str[1:].astype(int) + start).astype(str).str.zfill(7)
        ev["session_id"] = f"S{k}-" + ev["session_id"].str[1:]
        ev[COLUMNS].to_csv(csv, mode="a", header=k == 0, index=False)
        total += len(ev)
        del shop, ev
    return {"events": total, "users": users, "items": items, "csv_mb": _du(csv)}


def _import(engine, csv: Path) -> dict:
    t = time.perf_counter()
    report = engine.import_file(csv)
    secs = time.perf_counter() - t
    return {"added": report.added, "import_s": secs, "events_per_s": report.added / secs}


def step_import_sqlite(args, work: Path) -> dict:
    from shelfwise.config import Settings
    from shelfwise.engine import Engine

    shutil.rmtree(work / "home", ignore_errors=True)
    engine = Engine(Settings(home=work / "home"))
    out = _import(engine, work / "events.csv")
    engine.close()
    return {**out, "store_mb": _du(work / "home" / "events.db")}


def step_import_pg(args, work: Path) -> dict:
    import sqlalchemy as sa

    from shelfwise.config import Settings
    from shelfwise.engine import Engine

    db = f"scale_bench_{args.size}"
    admin = sa.create_engine(f"{args.pg_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {db}"))
        conn.execute(sa.text(f"CREATE DATABASE {db}"))
    try:
        engine = Engine(Settings(home=work / "pg-home", store_url=f"{args.pg_url}/{db}"))
        out = _import(engine, work / "events.csv")
        engine.close()
        with admin.connect() as conn:
            size = conn.execute(sa.text(f"SELECT pg_database_size('{db}')")).scalar()
        return {**out, "store_mb": size / 2**20}
    finally:
        with admin.connect() as conn:  # the store is measured: drop it, its disk is needed next
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        shutil.rmtree(work / "pg-home", ignore_errors=True)


def _params(args) -> dict:
    budget = {"max_minutes": args.sasrec_minutes}
    return {"sasrec": budget, "hybrid": {"retriever_params": {"sasrec": budget}}}


def _train(args, work: Path, model: str, on: str) -> dict:
    from shelfwise.config import Settings
    from shelfwise.engine import Engine

    settings = Settings(home=work / "home", training={"spark_master": args.master,
                                                       "spark_driver_memory": args.driver_memory})
    engine = Engine(settings)
    t = time.perf_counter()
    costs = engine.train([model], params=_params(args), engine=on, activate=True)
    wall = time.perf_counter() - t
    version = engine.settings.home / "versions" / costs.attrs["version"]
    engine.close()
    return {"fit_s": float(costs.loc[model, "fit_s"]), "fit_peak_mb": float(costs.loc[model, "peak_mb"]),
            "engine": costs.loc[model, "engine"], "train_wall_s": wall, "model_mb": _du(version / model),
            "view_mb": _du(version / "view"), **({"params": _params(args)[model]} if model in _params(args) else {})}


def step_serve(args, work: Path, precomputed: bool, model: str) -> dict:
    import httpx

    from serve import _free_port, _run_load  # benchmarks/serve.py: its load generator
    from shelfwise.api.keys import KeyStore
    from shelfwise.config import Settings
    from shelfwise.data.interactions import Interactions
    from shelfwise.engine import Engine

    home = work / "home"
    engine = Engine(Settings(home=home))
    if model not in engine.trained_models():
        raise SystemExit(f"{model} is not trained at this size: nothing to serve")
    # the load asks for the first shoppers the precomputing walker goes through (the training
    # view's order), so that a pass cut short by the cap still covers them
    order = [str(u) for u in Interactions.load(home / "versions" / engine.versions.active()[model]
                                                / "view").user_ids[:5000]]
    key = KeyStore(engine.store.engine).create("scale", ["read"])[1]
    engine.close()
    tmp = work / f"serve-{'pre' if precomputed else 'plain'}-{model}"
    tmp.mkdir(exist_ok=True)
    port = _free_port()
    env = {**os.environ, "SHELFWISE_DEFAULT_MODEL": model,
           "SHELFWISE_ONLINE__CACHE_SECONDS": "600" if precomputed else "0",
           "SHELFWISE_ONLINE__PRECOMPUTE_SECONDS": "3600" if precomputed else "0",
           "SHELFWISE_SERVE__RATE_LIMIT": ""}  # the service's capacity, not the per-key limiter (200/s)
    with (tmp / "server.log").open("wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "shelfwise.cli", "serve", "--port", str(port),
                                   "--home", str(home)], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    out: dict = {"model": model}
    try:
        t = time.perf_counter()
        while time.perf_counter() - t < 300:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        out["start_s"] = time.perf_counter() - t
        # the first list loads the model into the server: timed apart, not inside the load
        t = time.perf_counter()
        httpx.get(f"{url}/users/{order[0]}/recommendations", headers={"Authorization": f"Bearer {key}"},
                  timeout=600).raise_for_status()
        out["first_list_s"] = time.perf_counter() - t
        if precomputed:
            t = time.perf_counter()
            while time.perf_counter() - t < args.precompute_minutes * 60:
                status = httpx.get(f"{url}/healthz", timeout=30).json().get("precomputed", {})
                if status.get("passes", 0) >= 1:
                    break
                time.sleep(2)
            secs = time.perf_counter() - t
            done = status["of"] if status.get("passes", 0) >= 1 else status.get("lists", 0)
            out.update(precompute_lists=done, precompute_of=status.get("of", 0), precompute_s=secs,
                       precompute_lists_per_s=done / secs, precompute_complete=status.get("passes", 0) >= 1)
        # with precomputed lists, the load's shoppers are those the walker has done (all 5,000
        # when it got that far), so every request is a precomputed list
        users = order[:max(1, min(len(order), out.get("precompute_lists", len(order))))]
        out["load_shoppers"] = len(users)
        spec = {"url": url, "key": key, "users": users, "items": ["P000000"], "seconds": args.serve_seconds,
                "client": "wrk" if shutil.which("wrk") else "httpx", "server_pid": server.pid, "kind": "recs",
                "max_requests": 200_000, "concurrency": args.concurrency}
        r = _run_load(tmp, spec)
        if not r["requests"]:
            raise SystemExit(f"no request answered within the load's {args.serve_seconds:g} s")
        out.update(rps=r["rps"], p50_ms=r["p50_ms"], p99_ms=r["p99_ms"], cpu_ms=r["cpu_ms"],
                   statuses=r["statuses"], client=spec["client"])
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out


def child(args) -> None:
    work = Path(args.work) / str(args.size)
    work.mkdir(parents=True, exist_ok=True)
    step = args.child
    if step.startswith("train_"):
        result = _train(args, work, step.removeprefix("train_"), "local")
    elif step.startswith("spark_"):
        result = _train(args, work, step.removeprefix("spark_"), "spark")
    elif step.startswith("serve_"):  # serve_<precomputed|plain>_<model>
        kind, _, model = step.removeprefix("serve_").partition("_")
        result = step_serve(args, work, kind == "precomputed", model or args.serve_models[0])
    else:
        result = {"generate": step_generate, "import_sqlite": step_import_sqlite,
                  "import_pg": step_import_pg}[step](args, work)
    print("RESULT " + json.dumps(result, default=str), flush=True)


# -- driver: one child per (size, step), capped, its process tree's peak RSS sampled ----------
def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # a child may end while it is read
                total += p.memory_info().rss
    except psutil.Error:
        pass
    return total


def run_step(args, size: int, step: str, logdir: Path) -> dict:
    import psutil

    passed = ["--work", args.work, "--chunk-users", str(args.chunk_users), "--sasrec-minutes",
              str(args.sasrec_minutes), "--master", args.master, "--driver-memory", args.driver_memory,
              "--serve-models", *args.serve_models, "--precompute-minutes", str(args.precompute_minutes),
              "--serve-seconds", str(args.serve_seconds), "--concurrency", str(args.concurrency),
              "--pg-url", args.pg_url]
    cmd = [sys.executable, __file__, "--child", step, "--size", str(size), *passed]
    stdout, stderr = logdir / f"{size}-{step}.out", logdir / f"{size}-{step}.err"
    start, peak = time.perf_counter(), 0
    with stdout.open("w") as out, stderr.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
        ps = psutil.Process(proc.pid)
        status = None
        while proc.poll() is None:
            peak = max(peak, _tree_rss(ps))
            over_time = time.perf_counter() - start > args.step_minutes * 60
            # a memory cap of our own, so that a step is stopped before the kernel's OOM killer
            # picks a process of whoever else shares the machine
            if over_time or peak > args.max_rss_gb * 2**30:
                os.killpg(proc.pid, signal.SIGKILL)  # the step's own session: itself, its server, its JVM
                proc.wait()
                status = f"over cap ({args.step_minutes:g} min)" if over_time else \
                    f"over memory cap ({args.max_rss_gb:g} GB)"
                break
            time.sleep(0.5)
    row = {"events_target": size, "step": step, "wall_s": time.perf_counter() - start,
           "peak_rss_mb": peak / 2**20, "load1": os.getloadavg()[0], "at": time.strftime("%H:%M:%S")}
    result = [x for x in stdout.read_text().splitlines() if x.startswith("RESULT ")]
    if status is None and proc.returncode == 0 and result:
        status = "ok"
        row.update(json.loads(result[-1].removeprefix("RESULT ")))
    elif status is None:
        tail = [x for x in stderr.read_text().splitlines() if x.strip()]
        why = "killed by signal 9 (the OOM killer, or by hand)" if proc.returncode == -9 else f"exit {proc.returncode}"
        status = f"failed: {why}: {tail[-1][:200] if tail else ''}"
    row["status"] = status
    return row


def steps_for(args) -> list[str]:
    steps = ["generate", "import_sqlite", *(f"train_{m}" for m in args.models),
             *(f"serve_{kind}_{m}" for m in args.serve_models for kind in ("precomputed", "plain")),
             *(f"spark_{m}" for m in args.spark_models), *(["import_pg"] if args.pg_url else [])]
    return [s for s in steps if s in args.only] if args.only else steps


def drive(args) -> None:
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    logdir = Path(args.work) / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    broken: dict[str, str] = {}  # step -> why it is not tried at larger sizes
    # rows of an earlier run into the same file count: a step that broke there is not tried again
    earlier = [json.loads(x) for x in out.read_text().splitlines() if x.strip()] \
        if out.exists() and not args.fresh else []
    for r in earlier:
        if r.get("status") not in ("ok", None) and not r["status"].startswith("not tried") \
                and r["events_target"] <= min(args.events):
            broken[r["step"]] = f"{r['status']} at {r['events_target']:,} events"
    users_of = {s: shop_shape(s) for s in args.events}
    print(f"sizes {', '.join(f'{s:,} events ({u:,} shoppers, {i:,} items)' for s, (u, i) in users_of.items())}; "
          f"step cap {args.step_minutes:g} min; rows to {out}", flush=True)
    steps = steps_for(args)
    # --order step: each step over every size before the next step, so the cheap steps reach
    # the large sizes within the time there is; the CSVs and homes of all sizes stay meanwhile
    pairs = [(z, s) for z in args.events for s in steps] if args.order == "size" else \
        [(z, s) for s in steps for z in args.events]
    no_shop = float("inf")  # sizes from this one up have no shop to work on
    for size, step in pairs:
        if size >= no_shop:
            row = {"events_target": size, "step": step, "status": "not tried: no shop of this size"}
        elif step in broken:
            row = {"events_target": size, "step": step, "status": f"not tried: {broken[step]}"}
        else:
            row = run_step(args, size, step, logdir)
            if row["status"] != "ok":
                broken[step] = f"{row['status']} at {size:,} events"
                if step in ("generate", "import_sqlite"):
                    no_shop = min(no_shop, size)
        with out.open("a") as f:
            f.write(json.dumps(row, default=str) + "\n")
        figures = {k: v for k, v in row.items() if k not in ("events_target", "step", "status", "wall_s",
                                                              "peak_rss_mb", "load1")}
        print(f"{size:>11,} {step:<18} {row['status']:<8} {row.get('wall_s', 0):8.1f} s "
              f"{row.get('peak_rss_mb', 0):8.0f} MB  load {row.get('load1', 0):.2f}  "
              f"{json.dumps(figures, default=str)}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", nargs="+", type=parse_size, default=[parse_size(s) for s in ("1M", "2M", "4M", "8M")],
                    help="shop sizes in events (1M, 500k, 2000000)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "scale" / "scale.jsonl"), help="JSON lines of rows")
    ap.add_argument("--work", default="/tmp/scale", help="homes, CSVs and step logs")
    ap.add_argument("--step-minutes", type=float, default=15.0, help="cap per (size, step)")
    ap.add_argument("--models", nargs="+", default=LOCAL, help="models trained in one process")
    ap.add_argument("--spark-models", nargs="*", default=SPARK, help="models trained on Spark")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--sasrec-minutes", type=float, default=3.0, help="sasrec's (and the hybrid's) budget")
    ap.add_argument("--serve-models", nargs="+", default=["hybrid", "itemknn"],
                    help="models served, each as the default model of its own server")
    ap.add_argument("--precompute-minutes", type=float, default=5.0)
    ap.add_argument("--serve-seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432",
                    help="PostgreSQL server (a database per size is created and dropped); '' skips")
    ap.add_argument("--max-rss-gb", type=float, default=12.0, help="memory cap per step (its process tree)")
    ap.add_argument("--chunk-users", type=int, default=200_000, help="shoppers generated at once")
    ap.add_argument("--order", choices=["size", "step"], default="size",
                    help="size: every step of a size before the next size; step: a step over every size")
    ap.add_argument("--only", nargs="+", help="run only these steps (on the shops and models already there)")
    ap.add_argument("--fresh", action="store_true", help="try again the steps that broke in --out's earlier rows")
    ap.add_argument("--plots", default=str(ROOT / "reports" / "scale"), help="folder for the PNGs")
    ap.add_argument("--plot", action="store_true", help="print the table and slopes of --out, draw the plots")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    if args.plot:
        rows = [json.loads(x) for x in Path(args.out).read_text().splitlines() if x.strip()]
        print(table(rows))
        plot(rows, Path(args.plots))
        return
    drive(args)


if __name__ == "__main__":
    main()
