"""HTTP service load: real requests from a separate load-generator process against
``shelfwise serve`` on localhost (one uvicorn worker), bounded in time and request count.

Prints, beside the issue's targets:
1. ``GET /users/{id}/recommendations`` requests/s and p50 / p99 latency (target >= 1,000/s,
   p99 <= 25 ms; Pixie: 1,200/s at 60 ms p99);
2. ``POST /events`` in batches of 1,000: durable events/s (target >= 20,000), and single
   events: requests/s (target >= 1,000);
3. freshness: from sending an event to holding a recommendation that reflects it, p50 / p99
   (target p99 <= 100 ms);
4. in-process exact scoring (ALS, dot products over the whole catalogue) against the
   memory-bandwidth bound of reading n_items x d x 4 bytes per query, as a ratio.

The load generator is an asyncio client (httpx), since ``wrk`` is not installed here.
Run: ``.venv/bin/python benchmarks/serve.py`` (defaults: 100,000 items, about 1M events;
``--users 3000 --items 5000`` for a quick look). No response cache: every request scores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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


def _run_load(tmp: Path, spec: dict) -> dict:
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
    args = ap.parse_args()
    if args.load:
        return load_main(args)

    from shelfwise.api.keys import KeyStore
    from shelfwise.config import Settings
    from shelfwise.data.synthetic import generate_shop
    from shelfwise.engine import Engine

    tmp = Path(tempfile.mkdtemp(prefix="shelfwise-serve-"))
    home = tmp / "home"
    t = time.perf_counter()
    shop = generate_shop(n_users=args.users, n_items=args.items, seed=1)
    engine = Engine(Settings(home=home, store_url=args.store_url))
    engine.store.upsert_items(shop.items)
    engine.ingest(shop.events)
    engine.train([args.model])
    print(f"shop: {len(shop.items):,} items, {len(shop.events):,} events, {args.model} trained "
          f"({time.perf_counter() - t:.0f} s); store {engine.settings.resolved_store_url}")
    keys = KeyStore(engine.store.engine)
    key = keys.create("bench", ["read", "write"])[1]
    port = _free_port()
    server_log = (tmp / "server.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "shelfwise.cli", "serve", "--port", str(port),
                               "--home", str(home), "--store-url", engine.settings.resolved_store_url],
                              stdout=server_log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        users = [str(u) for u in shop.user_ids[:5000]]
        items = [str(i) for i in shop.item_ids]
        base = {"url": url, "key": key, "users": users, "items": items, "seconds": args.seconds}
        rows = [
            ("GET recommendations", _run_load(tmp, {**base, "kind": "recs", "max_requests": 200_000,
                                                    "concurrency": args.concurrency}),
             ">= 1,000/s, p99 <= 25 ms", 1),
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
    print(f"\nload generator: asyncio + httpx in a separate process, {args.concurrency} connections; "
          "server: one uvicorn worker; 2 cores shared by both")
    print(f"{'route':32s} {'per s':>10s} {'p50 ms':>8s} {'p99 ms':>8s}  {'statuses':18s} target")
    for name, r, target, per in rows:
        rate = r["rps"] * per
        print(f"{name:32s} {rate:10,.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f}  "
              f"{json.dumps(r['statuses']):18s} {target}")
    print(f"{'freshness (event -> list)':32s} {'':>10s} {fresh['p50_ms']:8.1f} {fresh['p99_ms']:8.1f}  "
          f"{'':18s} p99 <= 100 ms")
    qps, gbs, ratio = _scoring_bound(engine)
    print(f"\nin-process exact ALS scoring, one shopper a query: {qps:,.0f} queries/s; memory "
          f"{gbs:.1f} GB/s; {ratio:.2f} of the bandwidth bound (n_items x 64 x 4 bytes a query)")


if __name__ == "__main__":
    main()
