"""What the default limits answer: a burst of requests on one read key, and wrong secrets for
the admin key's id, against a real ``shelfwise serve`` on a free port (an empty shop: the
answers are the limits' verdicts, not lists).

Run:  .venv/bin/python benchmarks/rate_limits.py [--requests 500] [--connections 10]
      [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from shelfwise.api.keys import KeyStore
from shelfwise.config import Settings
from shelfwise.store import open_store


def _serve(home: Path, redis: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **({"SHELFWISE_ONLINE__URL": redis} if redis else {})}
    proc = subprocess.Popen([sys.executable, "-m", "shelfwise.cli", "serve", "--home", str(home), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


async def _burst(url: str, credentials: list[str], connections: int) -> tuple[Counter, float]:
    """Send one GET /models per credential, pipelined over ``connections`` keep-alive
    connections (so the client, not the server, is never what holds the rate down), and count
    the answers' status codes."""
    host, port = url.removeprefix("http://").split(":")
    shares = [credentials[k::connections] for k in range(connections)]

    async def one(share: list[str]) -> list[int]:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"".join(f"GET /models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {c}\r\n\r\n".encode()
                              for c in share))
        await writer.drain()
        codes, data = [], b""
        while len(codes) < len(share):
            chunk = await reader.read(65536)
            if not chunk:
                break
            data += chunk
            while True:  # whole answers only: status line, headers, a body of Content-Length bytes
                head, sep, rest = data.partition(b"\r\n\r\n")
                if not sep:
                    break
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), b"0"))
                if len(rest) < length:
                    break
                codes.append(int(head.split(b" ")[1]))
                data = rest[length:]
        writer.close()
        return codes

    start = time.perf_counter()
    answers = await asyncio.gather(*(one(share) for share in shares if share))
    return Counter(code for codes in answers for code in codes), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--redis", default="", help="count the limits in this Redis (online.url)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="shelfwise-limits-"))
    settings = Settings(home=home)
    store = open_store(settings.resolved_store_url)
    keys = KeyStore(store.engine)
    read, admin = keys.create("burst", ["read"])[1], keys.create("admin", ["admin"])[1]
    proc, url = _serve(home, args.redis)
    try:
        print(f"limits: rate_limit={settings.serve.rate_limit!r} auth_failure_limit="
              f"{settings.serve.auth_failure_limit!r}; {args.requests} requests over {args.connections} connections")
        codes, took = asyncio.run(_burst(url, [read] * args.requests, args.connections))
        print(f"one read key:           {dict(sorted(codes.items()))} in {took:.2f} s")
        key_id = admin.split("_")[1]
        wrong = [f"sw_{key_id}_{secrets.token_urlsafe(24)}" for _ in range(args.requests)]
        codes, took = asyncio.run(_burst(url, wrong, args.connections))
        print(f"admin id, wrong secret: {dict(sorted(codes.items()))} in {took:.2f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
