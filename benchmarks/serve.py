"""HTTP service load: real requests from a separate load-generator process against
``shelfwise serve`` on localhost (one uvicorn worker), bounded in time and request count.

Prints, beside the issue's targets:
1. ``GET /users/{id}/recommendations`` requests/s and p50 / p99 latency (target >= 1,000/s,
   p99 <= 25 ms; Pixie: 1,200/s at 60 ms p99), cycling through 5,000 shoppers (few repeats
   in a phase, so mostly cache misses), then through 500 (mostly hits);
2. ``POST /events`` in batches of 1,000: durable events/s (target >= 20,000), and single
   events: requests/s (target >= 1,000);
3. freshness: from sending an event to holding a recommendation that reflects it, p50 / p99
   (target p99 <= 100 ms);
4. in-process exact scoring (ALS, dot products over the whole catalogue) against the
   memory-bandwidth bound of reading n_items x d x 4 bytes per query, as a ratio.

Load generator: ``wrk`` (Debian's package) for the GET and single-event phases when it is on
the PATH, with a Lua script cycling through 5,000 shoppers; an asyncio client (httpx) for
the batch and freshness phases, and for every phase without wrk (``--client httpx``).
Run: ``.venv/bin/python benchmarks/serve.py`` (defaults: 100,000 items, about 1M events;
``--users 3000 --items 5000`` for a quick look). Lists are precomputed before the GET phases
(``--precompute-seconds``, 0: off); ``--cache-seconds 0`` turns the list cache and the
precomputed lists off (every request scores); ``--workers 2 --online-url
redis://127.0.0.1:6379/0`` runs two server processes sharing Redis; ``--home DIR`` keeps the
generated shop for the next run.
Before each phase the 1-minute load average is printed: other processes on the machine
take cores from both the server and the load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


# -- load generator (runs in its own process) ------------------------------------------
async def _load(url: str, key: str, kind: str, users: list[str], items: list[str], seconds: float,
                max_requests: int, concurrency: int) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent = 0
    rng = np.random.default_rng(0)
    deadline = time.perf_counter() + seconds

    def request(client: httpx.AsyncClient, n: int):
        if kind == "recs":
            return client.get(f"/users/{users[n % len(users)]}/recommendations", params={"n": 10})
        if kind == "single":
            return client.post("/events", json={"user_id": f"load-{n % 5000}", "event_type": "view",
                                                "item_id": items[int(rng.integers(len(items)))]})
        batch = [{"user_id": f"batch-{n}-{k % 100}", "event_type": "view",
                  "item_id": items[int(rng.integers(len(items)))], "timestamp": 2e9 + n * 1000 + k}
                 for k in range(1000)]
        return client.post("/events", json={"events": batch})

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal sent
        while time.perf_counter() < deadline and sent < max_requests:
            n = sent
            sent += 1
            t = time.perf_counter()
            res = await request(client, n)
            latencies.append(time.perf_counter() - t)
            statuses[res.status_code] = statuses.get(res.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    lat = np.array(latencies) * 1000
    return {"requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed,
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "statuses": statuses}


async def _freshness(url: str, key: str, items: list[str], trials: int) -> dict:
    """Send a cart event for a shopper nobody has seen, then ask for their list at once: the
    list reflects the event when it is no longer the unknown-shopper fallback."""
    import httpx

    headers = {"Authorization": f"Bearer {key}"}
    out = []
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        for t in range(trials):
            user = f"fresh-{t}-{time.time_ns()}"
            start = time.perf_counter()
            await client.post("/events", json={"user_id": user, "item_id": items[t % len(items)],
                                               "event_type": "cart"})
            for _ in range(1000):  # until the list is no longer the one for an unknown shopper
                body = (await client.get(f"/users/{user}/recommendations", params={"n": 10})).json()
                if body["fallback"] != "unknown shopper":
                    break
            else:
                raise RuntimeError(f"an event of {user} never showed in their recommendations")
            out.append((time.perf_counter() - start) * 1000)
    lat = np.array(out)
    return {"trials": trials, "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99))}


_WRK_LUA = """
local users = {%(users)s}
local items = {%(items)s}
local kind = "%(kind)s"
local n = 0
function setup(thread) thread:set("offset", math.random(1, 1000000)) end
function request()
  n = n + 1
  local k = n + offset
  local headers = {["Authorization"] = "Bearer %(key)s", ["Content-Type"] = "application/json"}
  if kind == "recs" then
    return wrk.format("GET", "/users/" .. users[(k %% #users) + 1] .. "/recommendations?n=10", headers)
  end
  local body = '{"user_id": "load-' .. (k %% 5000) .. '", "event_type": "view", "item_id": "'
               .. items[(k * 7919 %% #items) + 1] .. '"}'
  return wrk.format("POST", "/events", headers, body)
end
function done(summary, latency, requests)
  local codes = 0
  io.write(string.format('{"requests": %%d, "seconds": %%f, "p50_ms": %%f, "p99_ms": %%f, "errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout))
end
"""


def _wrk(tmp: Path, spec: dict) -> dict:
    """One phase under wrk (2 threads, ``concurrency`` connections): requests/s, p50, p99."""
    quote = lambda xs: ",".join(json.dumps(x) for x in xs)  # noqa: E731 - JSON strings are Lua strings
    script = tmp / f"wrk-{spec['kind']}.lua"
    script.write_text(_WRK_LUA % {"users": quote(spec["users"]), "items": quote(spec["items"][:20_000]),
                                  "kind": spec["kind"], "key": spec["key"]})
    done = subprocess.run(["wrk", "-t2", f"-c{spec['concurrency']}", f"-d{int(spec['seconds'])}s",
                           "--timeout", "10s", "-s", str(script), spec["url"]],
                          capture_output=True, text=True, timeout=spec["seconds"] + 120)
    line = next(x for x in done.stdout.splitlines() if x.startswith("{"))
    r = json.loads(line)
    r["rps"] = r["requests"] / r["seconds"]
    r["statuses"] = {"non-2xx/errors": r.pop("errors")} if r["errors"] else {"2xx": r["requests"]}
    return r


def load_main(args) -> None:
    spec = json.loads(Path(args.load).read_text())
    if spec["kind"] == "fresh":
        result = asyncio.run(_freshness(spec["url"], spec["key"], spec["items"], spec["trials"]))
    else:
        result = asyncio.run(_load(spec["url"], spec["key"], spec["kind"], spec["users"], spec["items"],
                                   spec["seconds"], spec["max_requests"], spec["concurrency"]))
    print(json.dumps(result))


# -- driver --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _load_average() -> str:
    return f"load average {os.getloadavg()[0]:.2f}"


def _server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server process and its workers."""
    import psutil

    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return sum(sum(p.cpu_times()[:2]) for p in procs)


def _run_load(tmp: Path, spec: dict) -> dict:
    print(f"  {spec['kind']}: {_load_average()} before the phase", flush=True)
    cpu = _server_cpu(spec["server_pid"])
    result = _run_phase(tmp, spec)
    # the server's own CPU per request does not depend on what else the machine runs
    result["cpu_ms"] = 1000 * (_server_cpu(spec["server_pid"]) - cpu) / max(result.get("requests", 1), 1)
    result["load"] = os.getloadavg()[0]
    return result


def _run_phase(tmp: Path, spec: dict) -> dict:
    if spec.get("client") == "wrk" and spec["kind"] in ("recs", "single"):
        return _wrk(tmp, spec)
    path = tmp / f"load-{spec['kind']}.json"
    path.write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, __file__, "--load", str(path)], capture_output=True,
                          text=True, timeout=spec.get("seconds", 60) + 600)
    if done.returncode != 0:
        log = (tmp / "server.log").read_text()[-3000:]
        raise SystemExit(f"load generator failed: {done.stderr.strip().splitlines()[-1]}\nserver log:\n{log}")
    return json.loads(done.stdout)


def _scoring_bound(engine, n_queries: int = 256) -> tuple[float, float, float]:
    """(queries/s of exact ALS scoring, memory GB/s, ratio of achieved to the bound)."""
    from shelfwise.models import create

    als = create("als", factors=64, iterations=3).fit(engine.training_view())
    users = np.arange(min(n_queries, als.n_users_))
    t = time.perf_counter()
    for u in users:  # one shopper at a time, as requests come
        als.recommend(np.array([u]), 10)
    qps = len(users) / (time.perf_counter() - t)
    big = np.ones(2 ** 27 // 4, np.float32)  # 128 MiB
    t = time.perf_counter()
    for _ in range(5):
        big.sum()
    gbs = 5 * big.nbytes / (time.perf_counter() - t) / 1e9
    bytes_per_query = als.n_items_ * als.item_factors_.shape[1] * 4
    return qps, gbs, qps * bytes_per_query / 1e9 / gbs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", help=argparse.SUPPRESS)
    ap.add_argument("--users", type=int, default=30_000)
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--model", default="itemknn", help="the serving model")
    ap.add_argument("--seconds", type=float, default=10.0, help="per load phase")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--store-url", default="", help="default: SQLite in a temporary home")
    ap.add_argument("--home", default="", help="keep the shop here and reuse it on the next run")
    ap.add_argument("--workers", type=int, default=1, help="server processes")
    ap.add_argument("--online-url", default="", help="online state: '' in process, or redis://...")
    ap.add_argument("--cache-seconds", type=float, default=60.0, help="list cache lifetime; 0: off")
    ap.add_argument("--precompute-seconds", type=float, default=600.0,
                    help="lifetime of precomputed lists (online.precompute_seconds); 0: off")
    ap.add_argument("--prepare", action="store_true", help="build the shop in --home and stop")
    ap.add_argument("--no-scoring", action="store_true", help="skip the in-process scoring figure")
    ap.add_argument("--client", choices=["wrk", "httpx"], default="wrk" if shutil.which("wrk") else "httpx")
    args = ap.parse_args()
    if args.load:
        return load_main(args)

    from shelfwise.api.keys import KeyStore
    from shelfwise.config import Settings
    from shelfwise.data.synthetic import generate_shop
    from shelfwise.engine import Engine

    tmp = Path(tempfile.mkdtemp(prefix="shelfwise-serve-"))
    home = Path(args.home) if args.home else tmp / "home"
    t = time.perf_counter()
    shop = generate_shop(n_users=args.users, n_items=args.items, seed=1)
    engine = Engine(Settings(home=home, store_url=args.store_url))
    if engine.store.count_events() == 0 or args.model not in engine.trained_models():
        engine.store.upsert_items(shop.items)
        engine.ingest(shop.events)
        engine.train([args.model])
    print(f"shop: {len(shop.items):,} items, {len(shop.events):,} events, {args.model} trained "
          f"({time.perf_counter() - t:.0f} s); store {engine.settings.resolved_store_url}")
    if args.prepare:
        return
    keys = KeyStore(engine.store.engine)
    key = keys.create("bench", ["read", "write"])[1]
    port = _free_port()
    server_log = (tmp / "server.log").open("wb")
    precompute = args.precompute_seconds if args.cache_seconds > 0 else 0.0
    env = {**os.environ, "SHELFWISE_ONLINE__CACHE_SECONDS": str(args.cache_seconds),
           "SHELFWISE_ONLINE__PRECOMPUTE_SECONDS": str(precompute),
           "SHELFWISE_ONLINE__URL": args.online_url,
           "SHELFWISE_ONLINE__NAMESPACE": f"bench-{port}"}  # a fresh Redis namespace each run
    server = subprocess.Popen([sys.executable, "-m", "shelfwise.cli", "serve", "--port", str(port),
                               *(["--workers", str(args.workers)] if args.workers > 1 else []),
                               "--home", str(home), "--store-url", engine.settings.resolved_store_url],
                              stdout=server_log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        warm = None
        if precompute > 0:  # the GET phases start once every trained shopper's list is precomputed
            t = time.perf_counter()
            while (status := httpx.get(f"{url}/healthz", timeout=10).json().get("precomputed", {})) \
                    .get("passes", 0) < 1:
                time.sleep(1)
            warm = (status["of"], time.perf_counter() - t)
            print(f"  precomputed {warm[0]:,} shoppers' lists in {warm[1]:.0f} s", flush=True)
        users = [str(u) for u in shop.user_ids[:5000]]
        items = [str(i) for i in shop.item_ids]
        base = {"url": url, "key": key, "users": users, "items": items, "seconds": args.seconds,
                "client": args.client, "server_pid": server.pid}
        rows = [
            ("GET recommendations", _run_load(tmp, {**base, "kind": "recs", "max_requests": 200_000,
                                                    "concurrency": args.concurrency}),
             ">= 1,000/s, p99 <= 25 ms", 1),
            ("GET recommendations, 500 shoppers", _run_load(tmp, {**base, "kind": "recs", "users": users[:500],
                                                                   "max_requests": 200_000,
                                                                   "concurrency": args.concurrency}),
             "(each shopper asks again: cache hits)", 1),
            ("POST /events, 1,000 a batch", _run_load(tmp, {**base, "kind": "batch", "max_requests": 2_000,
                                                            "concurrency": 4}),
             ">= 20,000 events/s", 1000),
            ("POST /events, single", _run_load(tmp, {**base, "kind": "single", "max_requests": 200_000,
                                                     "concurrency": args.concurrency}),
             ">= 1,000/s", 1),
        ]
        fresh = _run_load(tmp, {**base, "kind": "fresh", "trials": 200})
    finally:
        server.terminate()
        server.wait(timeout=20)
    client = "wrk (2 threads) for GET and single events, httpx for batches and freshness" \
        if args.client == "wrk" else "asyncio + httpx in a separate process"
    print(f"\nload generator: {client}, {args.concurrency} connections; server: {args.workers} uvicorn "
          f"worker(s), online state {args.online_url or 'in process'}, list cache "
          f"{f'{args.cache_seconds:g} s' if args.cache_seconds else 'off'}, precomputed lists "
          f"{f'{precompute:g} s ({warm[0]:,} shoppers in {warm[1]:.0f} s)' if warm else 'off'}; "
          f"{os.cpu_count()} cores shared by all")
    print(f"{'route':32s} {'per s':>10s} {'p50 ms':>8s} {'p99 ms':>8s} {'CPU ms':>7s} {'load':>5s}  "
          f"{'statuses':18s} target")
    for name, r, target, per in rows:
        rate = r["rps"] * per
        print(f"{name:32s} {rate:10,.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['cpu_ms']:7.2f} "
              f"{r['load']:5.1f}  {json.dumps(r['statuses']):18s} {target}")
    print("CPU ms: server CPU time per request (all workers), whatever else the machine runs; "
          "load: 1-minute load average after the phase")
    print(f"{'freshness (event -> list)':32s} {'':>10s} {fresh['p50_ms']:8.1f} {fresh['p99_ms']:8.1f}  "
          f"{'':18s} p99 <= 100 ms")
    if args.no_scoring:
        return
    qps, gbs, ratio = _scoring_bound(engine)
    print(f"\nin-process exact ALS scoring, one shopper a query: {qps:,.0f} queries/s; memory "
          f"{gbs:.1f} GB/s; {ratio:.2f} of the bandwidth bound (n_items x 64 x 4 bytes a query)")


if __name__ == "__main__":
    main()
