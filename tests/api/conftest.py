"""A real server: ``shelfwise serve`` in its own process on a free port, over SQLite or the
PostgreSQL test server, with keys made by ``shelfwise keys create``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.store.conftest import store_url  # noqa: F401 - the sqlite / postgresql fixture


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "shelfwise.cli", *args], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@dataclass
class Server:
    url: str
    home: Path
    store_url: str
    keys: dict[str, str]
    proc: subprocess.Popen

    def client(self, scope: str | None = "admin") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[scope]}"} if scope else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start_server(home: Path, store: str, env: dict[str, str] | None = None, *args: str,
                 keys: dict[str, str] | None = None) -> Server:
    """``shelfwise serve`` with ``env`` added to the environment (settings as SHELFWISE_*) and
    ``args`` added to the command line; ``keys`` made in the store unless given."""
    where = ["--home", str(home), "--store-url", store]
    keys = keys or {scope: cli("keys", "create", f"test-{scope}", "--scope", scope, *where)
                    for scope in ("read", "write", "admin")}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "shelfwise.cli", "serve", "--port", str(port), *where, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                            start_new_session=True)  # its own group: workers go with it on failure
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded machine starts worker processes slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Server(url, home, store, keys, proc)
        except httpx.TransportError:
            time.sleep(0.2)
        if proc.poll() is not None:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    raise RuntimeError(f"server did not start: {proc.stdout.read().decode()}")


@pytest.fixture
def server(tmp_path, store_url):  # noqa: F811
    srv = start_server(tmp_path / "home", store_url)
    yield srv
    srv.proc.terminate()
    srv.proc.wait(timeout=10)


def start_shop_server(home: Path, shop, env: dict[str, str] | None = None) -> Server:
    """A SQLite-backed server with ``shop``'s events ingested over HTTP and itemknn and rules
    trained."""
    srv = start_server(home, f"sqlite:///{home / 'events.db'}", env)
    rows = shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_dict("records")
    with srv.client("write") as c:
        for start in range(0, len(rows), 5000):
            assert c.post("/events", json={"events": rows[start:start + 5000]}).status_code == 200
    cli("train", "-m", "itemknn", "-m", "rules", "--home", str(home), "--store-url", srv.store_url)
    return srv


@pytest.fixture(scope="module")
def shop_server(tmp_path_factory, small_shop):
    """The small synthetic shop served from SQLite (itemknn, rules); keys trusted for 1 s."""
    srv = start_shop_server(tmp_path_factory.mktemp("api"), small_shop,
                            {"SHELFWISE_SERVE__KEY_CACHE_SECONDS": "1", "SHELFWISE_SERVE__BODY_TIMEOUT_SECONDS": "2"})
    yield srv
    srv.proc.terminate()
    srv.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def attack_server(tmp_path_factory, small_shop):
    """For the attacks and the shop-front keys' tests: the small shop (popular and itemknn
    trained) served with its limits off (test_rate_limits.py tests them: a run of every route
    with a wrong key would trip them), and a public key besides read/write/admin."""
    home = tmp_path_factory.mktemp("attacks")
    srv = start_server(home, f"sqlite:///{home / 'events.db'}", {
        "SHELFWISE_SERVE__RATE_LIMIT": "", "SHELFWISE_SERVE__BROWSER_RATE_LIMIT": "",
        "SHELFWISE_SERVE__AUTH_FAILURE_LIMIT": "", "SHELFWISE_SERVE__KEY_CACHE_SECONDS": "1"})
    rows = small_shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_dict("records")
    with srv.client("write") as c:
        assert c.post("/events", json={"events": rows[:10_000]}).status_code == 200
    cli("train", "-m", "popular", "-m", "itemknn", "--home", str(home), "--store-url", srv.store_url)
    srv.keys["public"] = cli("keys", "create", "test-public", "--scope", "public",
                             "--home", str(srv.home), "--store-url", srv.store_url)
    srv.keys["wrong"] = srv.keys["admin"][:-4] + "abcd"  # the admin key's id, a wrong secret
    yield srv
    srv.proc.terminate()
    srv.proc.wait(timeout=10)
