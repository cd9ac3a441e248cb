"""Right after ``Engine.forget_user`` and ``DELETE /users/{id}`` (before any refit), no file
under the home maps or scores the shopper: in every kept version the view has no id for
them and an empty row, and every model's per-shopper arrays (its own and those of the
hybrid's retrievers) hold nothing in that row."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

from shelfwise.config import Settings
from shelfwise.data.interactions import Interactions
from shelfwise.data.synthetic import generate_shop
from shelfwise.engine import Engine
from shelfwise.models import create
from tests.api.conftest import cli, start_server
from tests.privacy.test_forget_contract import _per_shopper_rows_empty, _states

#: the sequence models are in the contract test (test_forget_contract), the costliest to fit
MODELS = ["popular", "itemknn", "userknn", "rules", "ease", "als", "hybrid"]
PARAMS = {"als": {"factors": 8, "iterations": 3},
          "hybrid": {"retrievers": [["itemknn", 20], ["als", 20], ["popular", 10]], "fusion": "weighted",
                     "retriever_params": {"als": {"factors": 8, "iterations": 3}}}}


@pytest.fixture(scope="module")
def tiny_shop():
    return generate_shop(n_users=150, n_items=90, seed=11)


def _rows(versions_root: Path, user: str) -> dict[str, int]:
    """{version: the shopper's row in its view}."""
    return {v.name: Interactions.load(v / "view").user_index[user]
            for v in sorted(versions_root.iterdir()) if (v / "run.json").exists()}


def assert_absent(versions_root: Path, user: str, rows: dict[str, int]) -> int:
    """Every kept version: the id maps nowhere, the view's row and sequence are empty, every
    model file's per-shopper rows are empty; no file holds the id. Returns model files checked."""
    checked = 0
    for version, row in rows.items():
        folder = versions_root / version
        view = Interactions.load(folder / "view")
        assert user not in view.user_index and view.user_ids[row].startswith("\x00forgotten-")
        assert view.matrix[row].nnz == 0 and view.seq_indptr[row] == view.seq_indptr[row + 1]
        for model_dir in sorted(p for p in folder.iterdir() if (p / "model.json").exists()):
            for _, arrays in _states(model_dir):
                assert _per_shopper_rows_empty(arrays, view.n_users, np.array([row])) >= 1, model_dir
                checked += 1
    needle = user.encode()
    assert [p for p in versions_root.rglob("*") if p.is_file() and needle in p.read_bytes()] == []
    return checked


def test_engine_forget_leaves_no_model_file_holding_the_shopper(tmp_path, tiny_shop):
    home = tmp_path / "home"
    engine = Engine(Settings(home=home, impressions={"enabled": False}, model_params=PARAMS))
    engine.ingest(tiny_shop.events)
    engine.train(MODELS)
    engine.train(["itemknn"])  # a second version; the first stays active for the rest
    user = str(tiny_shop.events["user_id"].value_counts().index[0])
    rows = _rows(engine.versions.root, user)
    assert len(rows) == 2
    assert engine.recommend(user, 5, model="hybrid").personalised
    report = engine.forget_user(user)
    assert report.versions == 2
    assert report.exact == ("ease", "itemknn", "popular", "rules", "userknn") and report.dropped == ("als", "hybrid")
    checked = assert_absent(engine.versions.root, user, rows)
    assert checked >= len(MODELS) + 1 + 3  # each model, the second version's, the hybrid's retrievers
    status = engine.forgetting.status()
    assert status["exact"] == ["ease", "itemknn", "popular", "rules", "userknn"]
    assert status["refit"] == ["als", "hybrid"] and status["pending"] == 1
    for model in MODELS:
        assert engine.recommend(user, 5, model=model).fallback == "unknown shopper", model
    engine.close()

    # the count-based models as rewritten on disk score every other shopper as models fitted
    # from scratch on the events without the shopper (columns matched by item id)
    reopened = Engine(Settings(home=home, impressions={"enabled": False}))
    events = tiny_shop.events[tiny_shop.events["user_id"].astype(str) != user]
    scratch = Interactions.from_events(events)
    assert (scratch.items_to_indices(Interactions.load(next(iter(engine.versions.root.glob("*/view")))).item_ids)
            >= 0).all()  # every item is still touched by someone
    for name in status["exact"]:
        model, view = reopened.versions.load(name)
        others = [u for u in view.user_ids if not u.startswith("\x00")]
        fresh = create(name, **PARAMS.get(name, {})).fit(scratch)
        got = model.score(view.users_to_indices(others))
        want = fresh.score(scratch.users_to_indices(others))[:, scratch.items_to_indices(view.item_ids)]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)
    reopened.close()


def test_a_delete_over_http_rewrites_every_model_file_before_any_refit(tmp_path, tiny_shop):
    home, store = tmp_path / "home", f"sqlite:///{tmp_path / 'events.db'}"
    env = {"SHELFWISE_ONLINE__URL": "redis://127.0.0.1:6379/0",
           "SHELFWISE_ONLINE__NAMESPACE": f"forget-files-{uuid.uuid4().hex[:8]}",
           "SHELFWISE_PRIVACY__FORGET_REFIT_DELAY_SECONDS": "3600", "SHELFWISE_IMPRESSIONS__ENABLED": "false"}
    tiny_shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_csv(tmp_path / "e.csv", index=False)
    where = ["--home", str(home), "--store-url", store]
    cli("import", str(tmp_path / "e.csv"), *where)
    cli("train", "-m", "itemknn", "-m", "rules", "-m", "als", *where)
    user = str(tiny_shop.events["user_id"].value_counts().index[1])
    rows = _rows(home / "versions", user)
    server = start_server(home, store, env)
    try:
        with server.client("admin") as c:
            assert c.get(f"/users/{user}/recommendations", params={"model": "als"}).json()["personalised"]
            gone = c.delete(f"/users/{user}").json()
            assert gone["models_awaiting_refit"] == ["als"] and {"itemknn", "rules"} <= set(gone["models_subtracted"])
            assert assert_absent(home / "versions", user, rows) >= 3
            for model in ("itemknn", "rules", "als"):
                served = c.get(f"/users/{user}/recommendations", params={"model": model}).json()
                assert served["fallback"] == "unknown shopper", model
            forget = c.get("/healthz").json()["forget"]
            assert forget["pending"] == 1 and forget["refit"] == ["als"]
            assert {"itemknn", "rules"} <= set(forget["exact"])
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)


def test_two_deletions_at_once_both_reach_the_files(tmp_path, tiny_shop):
    """Two processes' engines forgetting two shoppers at the same moment (threads here):
    each rewrite reads the files the other wrote, so neither shopper comes back."""
    import threading

    home = tmp_path / "home"
    first = Engine(Settings(home=home, impressions={"enabled": False}))
    first.ingest(tiny_shop.events)
    first.train(["itemknn", "ease"])
    second = Engine(Settings(home=home, impressions={"enabled": False}))
    users = [str(u) for u in tiny_shop.events["user_id"].value_counts().index[:2]]
    rows = {u: _rows(home / "versions", u) for u in users}
    go = threading.Barrier(2)

    def forget(engine, user):
        go.wait()
        engine.forget_user(user)

    threads = [threading.Thread(target=forget, args=(e, u)) for e, u in zip((first, second), users, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for user in users:
        assert_absent(home / "versions", user, rows[user])
    first.close()
    second.close()
