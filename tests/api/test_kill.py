"""SIGKILL of the server during a sustained ingest loses no acknowledged event and leaves the
store readable, on SQLite and on PostgreSQL."""

import signal
import sqlite3
import threading
import time

import httpx

from shelfwise.store import open_store


def test_no_acknowledged_event_is_lost(server):
    acked: list[str] = []
    stop = threading.Event()

    def ingest(worker: int) -> None:
        with server.client("write") as c:
            n = 0
            while not stop.is_set():
                batch = [{"event_id": f"w{worker}-{n}-{k}", "user_id": f"u{(n + k) % 50}",
                          "item_id": f"i{(n * 7 + k) % 200}", "event_type": "view",
                          "timestamp": 1e9 + n} for k in range(20)]
                try:
                    res = c.post("/events", json={"events": batch})
                except httpx.TransportError:
                    return  # the server is gone: nothing more is acknowledged
                if res.status_code == 200:
                    acked.extend(e["event_id"] for e in batch)
                n += 1

    workers = [threading.Thread(target=ingest, args=(w,)) for w in range(4)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 30
    while len(acked) < 2000 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=10)
    stop.set()
    for w in workers:
        w.join(timeout=30)
    assert len(acked) >= 2000

    if server.store_url.startswith("sqlite"):
        con = sqlite3.connect(server.store_url.removeprefix("sqlite:///"))
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
    store = open_store(server.store_url)
    stored = set(store.snapshot()["event_id"])
    store.close()
    assert set(acked) <= stored
