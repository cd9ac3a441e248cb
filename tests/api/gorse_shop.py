"""A real shelfwise server answering Gorse's ``/api``, stocked the way a shop moving from
Gorse would stock it: users, items and feedback posted through ``/api``, then trained.

The stock is the small synthetic shop (its behaviours sent as Gorse feedback types) plus a
planted corner with known answers, in category ``planted``:

- 30 fans (``kfan-00`` ...) star K1 and K2, the first 10 also K3, and 35 fans star K4,
  which is hidden: so K1's neighbours are K2 then K3, and never K4;
- ``probe`` has starred only K1: its list starts K2, K3, and in ``planted`` it is just those.

One server serves the whole session (``shop()`` starts it on first use); the test modules'
fixtures stop it at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

from shelfwise.api.keys import KeyStore
from shelfwise.config import Settings
from shelfwise.data.synthetic import generate_shop
from shelfwise.engine import Engine
from tests.api.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
GORSE_TYPE = {"view": "read", "favorite": "star", "cart": "cart", "purchase": "purchase",
              "review": "review", "remove_from_cart": "remove_from_cart"}  # the last two: unknown types
PLANTED_TIME = "2026-01-0{}T00:00:00Z"  # newer than anything else: the latest items, K3 first


@dataclass
class GorseShop:
    url: str
    key: str  # admin
    read_key: str
    home: Path
    store_url: str
    proc: subprocess.Popen
    user_ids: list[str] = field(default_factory=list)
    item_ids: list[str] = field(default_factory=list)
    feedback_keys: set[tuple[str, str, str]] = field(default_factory=set)  # (type, user, item) posted

    def http(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key or self.key}, timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)


_shop: GorseShop | None = None


def shop(root: Path) -> GorseShop:
    """The session's server (started, stocked and trained on first call, under ``root``)."""
    global _shop
    if _shop is None or _shop.proc.poll() is not None:
        _shop = _start(root)
        _stock(_shop)
    return _shop


def _start(root: Path) -> GorseShop:
    home = root / "gorse-home"
    store_url = f"sqlite:///{home / 'events.db'}"
    home.mkdir(parents=True, exist_ok=True)
    keys = KeyStore(sa.create_engine(store_url))
    key = keys.create("gorse-admin", ["admin"])[1]
    read_key = keys.create("gorse-read", ["read"])[1]
    port = free_port()
    env = {**os.environ, "SHELFWISE_SERVE_SETTINGS": Settings(home=home, store_url=store_url).model_dump_json(),
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "tests.api.gorse_app:create", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/api/health/live", timeout=1).status_code == 200:
                return GorseShop(url, key, read_key, home, store_url, proc)
        except httpx.TransportError:
            time.sleep(0.2)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError(f"server did not start: {proc.communicate(timeout=30)[0].decode()}")


def _stock(s: GorseShop) -> None:
    synthetic = generate_shop(n_users=400, n_items=300, seed=3)
    users = [{"UserId": u, "Labels": {k: str(v) for k, v in a.items()}, "Comment": ""}
             for u, a in zip(synthetic.users["user_id"], synthetic.users["attributes"], strict=True)]
    items = [{"ItemId": r["item_id"], "IsHidden": False, "Categories": list(r["category"]),
              "Timestamp": "", "Labels": {"brand": r["brand"]}, "Comment": r["title"]}
             for r in synthetic.items.to_dict("records")]
    items += [{"ItemId": f"K{k}", "IsHidden": k == 4, "Categories": ["planted"],
               "Timestamp": PLANTED_TIME.format(k), "Labels": ["planted"], "Comment": f"planted {k}"}
              for k in (1, 2, 3, 4)]
    events = synthetic.events
    feedback = [{"FeedbackType": GORSE_TYPE[t], "UserId": u, "ItemId": i, "Timestamp": float(ts), "Value": 0}
                for u, i, t, ts in zip(events["user_id"], events["item_id"], events["event_type"],
                                       events["timestamp"], strict=True)]
    fans = [f"kfan-{k:02d}" for k in range(35)]
    planted = [(f, "K1") for f in fans[:30]] + [(f, "K2") for f in fans[:30]] + [(f, "K3") for f in fans[:10]]
    planted += [(f, "K4") for f in fans] + [("probe", "K1")]
    feedback += [{"FeedbackType": "star", "UserId": u, "ItemId": i, "Timestamp": "2025-06-01T00:00:00Z"}
                 for u, i in planted]
    with s.http() as c:
        assert c.post("/api/users", json=users).json() == {"RowAffected": len(users)}
        assert c.post("/api/items", json=items).json() == {"RowAffected": len(items)}
        # times as Unix seconds strings, as clients may send them; bodies stay under 1 MiB
        for start in range(0, len(feedback), 2500):
            batch = [{**f, "Timestamp": str(f["Timestamp"])} for f in feedback[start:start + 2500]]
            assert c.post("/api/feedback", json=batch).status_code == 200
    engine = Engine(Settings(home=s.home, store_url=s.store_url))
    engine.train(models=["itemknn"])
    engine.close()
    s.user_ids = sorted({u["UserId"] for u in users} | {f["UserId"] for f in feedback})
    s.item_ids = sorted({i["ItemId"] for i in items} | {f["ItemId"] for f in feedback})
    s.feedback_keys = {(f["FeedbackType"], f["UserId"], f["ItemId"]) for f in feedback}
