"""Whatever path an event takes, it moves the online state every serving process shares: an
import through the CLI voids a running server's cached list for that shopper at once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from tests.api.conftest import cli, start_server

REDIS = "redis://127.0.0.1:6379/0"


def test_a_cli_import_voids_a_running_servers_cached_list(tmp_path, small_shop):
    home = tmp_path / "home"
    store = f"sqlite:///{tmp_path / 'events.db'}"
    env = {"SHELFWISE_ONLINE__URL": REDIS, "SHELFWISE_ONLINE__NAMESPACE": f"paths-{uuid.uuid4().hex[:8]}"}
    events = small_shop.events[["user_id", "item_id", "event_type", "timestamp"]]
    events.to_csv(tmp_path / "history.csv", index=False)
    where = ["--home", str(home), "--store-url", store]
    cli("import", str(tmp_path / "history.csv"), *where)
    cli("train", "-m", "itemknn", *where)
    server = start_server(home, store, env)
    try:
        user = str(small_shop.user_ids[21])
        with server.client("read") as c:
            first = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
            cached = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
        assert cached["recommendation_id"] == first["recommendation_id"]  # served from the cache
        top = first["items"][0]["item_id"]
        (tmp_path / "new.csv").write_text(f"user_id,item_id,event_type,timestamp\n{user},{top},purchase,4000000000\n")
        done = subprocess.run([sys.executable, "-m", "shelfwise.cli", "import", str(tmp_path / "new.csv"), *where],
                              capture_output=True, text=True, timeout=300, env={**os.environ, **env})
        assert done.returncode == 0, done.stderr
        with server.client("read") as c:
            after = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
        # the server computed a new list from the new event: the bought item is gone from it
        assert after["recommendation_id"] != first["recommendation_id"]
        assert top not in [i["item_id"] for i in after["items"]]
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
