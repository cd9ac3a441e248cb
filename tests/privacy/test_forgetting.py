"""Forgetting a shopper reaches every process at once and every file after one training run:
no kept version maps them, no process serves them from a model it loaded, and once a run of
every serving model without them is active no file under the home holds their id, and every
other shopper's lists equal those of models trained without their events."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from shelfwise.config import Settings
from shelfwise.data.interactions import Interactions
from shelfwise.engine import Engine
from tests.api.conftest import cli, start_server

MODELS = ["itemknn", "userknn", "rules"]


def _ids(served) -> list[str]:
    return [r.item_id for r in served]


def _files_holding(home: Path, user: str) -> list[str]:
    needle = user.encode()
    return [str(p.relative_to(home)) for p in home.rglob("*") if p.is_file() and needle in p.read_bytes()]


def _heaviest(shop) -> str:
    return str(shop.events["user_id"].value_counts().index[0])


def test_forget_at_once_then_a_refit_equals_training_without_them(tmp_path, small_shop):
    home = tmp_path / "home"
    engine = Engine(Settings(home=home, impressions={"enabled": False}))
    engine.ingest(small_shop.events)
    engine.train(MODELS)
    engine.train(MODELS)  # a kept inactive version holds the shopper too
    user = _heaviest(small_shop)
    other = Engine(Settings(home=home, impressions={"enabled": False}))  # another server's loaded models
    assert other.recommend(user, 5, model="userknn").personalised
    report = engine.forget_user(user)
    assert report.events == int((small_shop.events["user_id"] == user).sum()) and report.versions == 2
    for version in engine.versions.list_versions():  # no kept version maps them
        assert user not in Interactions.load(engine.versions.root / version / "view").user_index
    assert other.recommend(user, 5, model="userknn").fallback == "unknown shopper"  # at once, there too
    assert engine.forgetting.status()["pending"] == 1
    assert _files_holding(home, user)  # the store's pending row names them until the refit

    engine.train(sorted(engine.versions.active()))  # the refit of every serving model
    assert engine.forgetting.status()["pending"] == 0
    audit = engine.forgetting.log.audit().iloc[0]
    assert audit["refit_version"] == engine.versions.active()["userknn"] and audit["requested_by"] == "python"
    assert audit["events_deleted"] == report.events and user not in audit.astype(str).tolist()
    assert engine.versions.list_versions() == [audit["refit_version"]]  # versions that held them are gone
    engine.close()
    other.close()
    assert _files_holding(home, user) == []  # not in the store's files, not in any model file

    fresh = Engine(Settings(home=tmp_path / "fresh", impressions={"enabled": False}))
    fresh.ingest(small_shop.events[small_shop.events["user_id"] != user])
    fresh.train(MODELS)
    served = Engine(Settings(home=home, impressions={"enabled": False}))
    others = [str(u) for u in small_shop.events["user_id"].unique()[:40] if str(u) != user]
    for model in MODELS:
        for u in others:
            assert _ids(served.recommend(u, 10, model=model)) == _ids(fresh.recommend(u, 10, model=model)), (model, u)
    served.close()
    fresh.close()


def test_a_deletion_over_http_reaches_every_process_and_the_server_refits(tmp_path, small_shop):
    home, store = tmp_path / "home", f"sqlite:///{tmp_path / 'events.db'}"
    env = {"SHELFWISE_ONLINE__URL": "redis://127.0.0.1:6379/0",
           "SHELFWISE_ONLINE__NAMESPACE": f"forget-{uuid.uuid4().hex[:8]}",
           "SHELFWISE_PRIVACY__FORGET_REFIT_DELAY_SECONDS": "0", "SHELFWISE_PRIVACY__FORGET_REFIT_POLL_SECONDS": "0.2",
           # a list asked for the id after the deletion would be logged under it again: the
           # shop has named the shopper anew (the store's tests cover forgetting impressions)
           "SHELFWISE_IMPRESSIONS__ENABLED": "false"}
    small_shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_csv(tmp_path / "e.csv", index=False)
    where = ["--home", str(home), "--store-url", store]
    cli("import", str(tmp_path / "e.csv"), *where)
    cli("train", "-m", "itemknn", "-m", "userknn", *where)
    server = start_server(home, store, env)
    other = Engine(Settings(home=home, store_url=store, online={"url": env["SHELFWISE_ONLINE__URL"],
                                                               "namespace": env["SHELFWISE_ONLINE__NAMESPACE"]}))
    user = _heaviest(small_shop)
    try:
        with server.client("admin") as c:
            assert c.get(f"/users/{user}/recommendations", params={"model": "userknn"}).json()["personalised"]
            assert other.recommend(user, 5, model="userknn", log=False).personalised
            start = time.monotonic()
            gone = c.delete(f"/users/{user}").json()
            served = c.get(f"/users/{user}/recommendations", params={"model": "userknn"}).json()
            elsewhere = other.recommend(user, 5, model="userknn", log=False)
            absent_s = time.monotonic() - start
            assert served["fallback"] == "unknown shopper" and elsewhere.fallback == "unknown shopper"
            assert gone["events_deleted"] > 0 and gone["audit_id"]
            deadline = time.monotonic() + 180
            while c.get("/healthz").json()["forget"]["pending"]:
                assert time.monotonic() < deadline, "the server did not retrain without the shopper"
                time.sleep(0.2)
            refit_s = time.monotonic() - start
        print(f"\nforget: absent from every process {absent_s * 1000:.0f} ms after DELETE; "
              f"out of every model file after the server's refit, {refit_s:.1f} s")
        assert _files_holding(home, user) == []
        assert user.encode() not in Path(store.removeprefix("sqlite:///")).read_bytes()
    finally:
        other.close()
        server.proc.terminate()
        server.proc.wait(timeout=10)
