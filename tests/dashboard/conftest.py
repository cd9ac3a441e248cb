"""The dashboard in a real browser: one demo shop built once (the small synthetic shop,
trained as the demo trains: popular, item-kNN, rules and the hybrid serving by default, then
a second version of item-kNN), one ``shelfwise serve`` process, one Chromium.

Screenshots of every page at 1280 and 390 px, and each page's first render time (Navigation
Timing, in the browser), are written to ``reports/screenshots``; the summary names the folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "reports" / "screenshots"
AXE = ROOT / ".cache" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("SHELFWISE_CHROMIUM", "/usr/bin/chromium")
WIDTHS = {"wide": 1280, "narrow": 390}
TIMINGS: dict[str, float] = {}
STARTED = time.time()


@dataclass
class Shop:
    url: str
    home: Path
    keys: dict[str, str]  # role -> key
    versions: list[str]
    shopper: str  # a shopper with a long history
    item: str  # an item shown in served lists
    proc: subprocess.Popen
    spare: list[str] = field(default_factory=list)  # shoppers no test reads (for forgetting)

    def api(self, role: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.keys[role]}"}, timeout=30)


def _build(home: Path, shop) -> tuple[dict[str, str], list[str]]:
    """Store the shop, train two versions and write an evaluation report, in this process."""
    from shelfwise.api.keys import KeyStore
    from shelfwise.config import Settings
    from shelfwise.engine import Engine

    home.mkdir(parents=True, exist_ok=True)
    (home / "shelfwise.toml").write_text(
        'models = ["popular", "itemknn", "rules", "hybrid"]\ndefault_model = "hybrid"\n'
        '[model_params.hybrid]\nretrievers = [["itemknn", 100], ["rules", 50], ["popular", 50]]\n')
    engine = Engine(Settings(home=home))
    engine.store.upsert_items(shop.items)
    engine.store.upsert_users(shop.users)
    engine.ingest(shop.events)
    first = engine.train().attrs["version"]
    second = engine.train(["itemknn"]).attrs["version"]
    engine.evaluate(["popular", "itemknn"], report_dir=home / "report")
    engine.segment()  # the Marketing page's segments
    keys = {role: KeyStore(engine.store.engine).create(f"test-{role}", [scope])[1]
            for role, scope in (("viewer", "read"), ("editor", "write"), ("admin", "admin"))}
    engine.close()
    return keys, [first, second]


@pytest.fixture(scope="session")
def shop(tmp_path_factory, small_shop):
    home = tmp_path_factory.mktemp("dashboard") / "home"
    keys, versions = _build(home, small_shop)
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "shelfwise.cli", "serve", "--port", str(port), "--home", str(home)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError(f"server did not start: {proc.stdout.read().decode()}")
    counts = small_shop.events.groupby("user_id").size().sort_values(ascending=False)
    srv = Shop(url, home, keys, versions, shopper=str(counts.index[0]), item="", proc=proc,
               spare=[str(u) for u in counts.index[-3:]])
    with srv.api("viewer") as c:  # lists served and logged, so items have an exposure
        for user in counts.index[:5]:
            got = c.get(f"/users/{user}/recommendations", params={"n": 10}).json()
            srv.item = srv.item or got["items"][0]["item_id"]
    yield srv
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the dashboard's tests, closed after them: Playwright's sync API keeps
    an event loop running on this thread while it lives, and other tests call asyncio.run()."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


class Watched:
    """A page with its console errors, failed requests and HTTP errors recorded."""

    def __init__(self, context, base: str):
        self.context, self.base = context, base
        self.page = context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text} {m.location}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def goto(self, path: str):
        self.problems.clear()
        return self.page.goto(self.base + path, wait_until="load")

    def login(self, key: str, path: str = "/dashboard/") -> None:
        self.goto(f"/dashboard/login?next={path}")
        self.page.fill("#key", key)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state("networkidle")  # the icon fetched (and cached) too
        assert "/dashboard/login" not in self.page.url, self.page.content()[:2000]

    def first_render_ms(self) -> float:
        """Navigation start to first contentful paint (else to the load event), in the browser."""
        return self.page.evaluate("""() => {
            const paint = performance.getEntriesByName('first-contentful-paint')[0];
            const nav = performance.getEntriesByType('navigation')[0];
            return paint ? paint.startTime : nav.loadEventEnd;
        }""")

    def axe(self) -> list[dict]:
        """Serious and critical violations axe-core finds on the page."""
        if not AXE.exists():
            pytest.fail(f"{AXE} is missing: `make axe` fetches axe-core from the npm registry")
        self.page.add_script_tag(path=str(AXE))
        found = self.page.evaluate("async () => (await axe.run(document)).violations")
        return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
                for v in found if v["impact"] in ("serious", "critical")]


@pytest.fixture
def open_page(browser, shop):
    contexts = []

    def make(role: str | None = "admin", width: int = 1280) -> Watched:
        context = browser.new_context(viewport={"width": width, "height": 900})
        contexts.append(context)
        watched = Watched(context, shop.url)
        if role is not None:
            watched.login(shop.keys[role])
        return watched

    yield make
    for c in contexts:
        c.close()


def record_timing(name: str, ms: float) -> float:
    TIMINGS[name] = round(ms, 1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "first_render_ms.json").write_text(json.dumps(TIMINGS, indent=1, sort_keys=True))
    return ms


def pytest_terminal_summary(terminalreporter):
    """Name the screenshots folder when this run wrote to it."""
    timings = SHOTS / "first_render_ms.json"
    if timings.exists() and timings.stat().st_mtime >= STARTED:
        found = json.loads(timings.read_text())
        slowest = max(found, key=found.get)
        terminalreporter.write_line(f"dashboard screenshots: {SHOTS} (first render per page in {timings.name}; "
                                    f"slowest: {slowest}, {found[slowest]:.0f} ms)")
