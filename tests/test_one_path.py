"""One serving path: every registered model and the hybrid answer the same items with the same
reasons whichever way the list is asked for (Engine.recommend, GET over HTTP, the list cache,
the precomputed list, the session route, recommend-batch, explain), and no path shows an
out-of-stock, hidden or excluded item."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

from shelfwise.batch import batch_lists, read_batch_inputs, recommend_batch
from shelfwise.config import Settings
from shelfwise.data.rules import RuleSet
from shelfwise.data.schemas import Item
from shelfwise.engine import Engine
from shelfwise.errors import MissingExtra
from shelfwise.models import MODELS
from shelfwise.registry import model_names
from tests.api.conftest import start_server

pytest.importorskip("lightgbm", reason="the 'ranking' extra is not installed")
REDIS = "redis://127.0.0.1:6379/0"
SEQ = {"max_minutes": 0.03, "max_epochs": 2}
PARAMS = {"sasrec": SEQ, "bert4rec": SEQ, "gru4rec": SEQ, "bilstm_transformer": SEQ,
          "hybrid": {"retrievers": [["itemknn", 30], ["ease", 30], ["rules", 20], ["sasrec", 20], ["popular", 20]],
                     "retriever_params": {"sasrec": SEQ}}}
N = 8


def _installed() -> list[str]:
    out = []
    for name in model_names():
        try:
            MODELS[name].check_installed()
            out.append(name)
        except MissingExtra:
            pass
    return out


MODELS_HERE = _installed()


@pytest.fixture(scope="module")
def shop(tmp_path_factory, small_shop):
    """The small synthetic shop with every installed model trained, two items made
    unshowable (one out of stock, one hidden by the shop's rules), the online state in Redis
    so every process shares it, and a server over the same home with precomputed lists."""
    home = tmp_path_factory.mktemp("one-path")
    popular_ids = small_shop.events["item_id"].value_counts().index[:2].tolist()
    oos, hidden = str(popular_ids[0]), str(popular_ids[1])
    namespace = f"onepath-{uuid.uuid4().hex[:8]}"
    (home / "shelfwise.toml").write_text(
        f'default_model = "hybrid"\n[rules]\nhidden_items = ["{hidden}"]\n'
        f'[online]\nurl = "{REDIS}"\nnamespace = "{namespace}"\nprecompute_seconds = 600.0\nprecompute_n = {N}\n')
    engine = Engine(Settings(home=home))
    items = small_shop.items.copy()
    items.loc[items["item_id"] == oos, "in_stock"] = False
    engine.store.upsert_items([Item(**r) for r in items.to_dict("records")])
    engine.ingest(small_shop.events)
    engine.train(MODELS_HERE, params=PARAMS)
    server = start_server(home, engine.settings.resolved_store_url)
    yield engine, server, oos, hidden, small_shop
    server.proc.terminate()
    server.proc.wait(timeout=10)
    engine.close()


def _shoppers(small_shop) -> list[str]:
    """Shoppers with a purchase (so exclusion has something to do) and some without."""
    buyers = small_shop.events.loc[small_shop.events["event_type"] == "purchase", "user_id"].unique()
    return [str(u) for u in buyers[:3]]


def _pairs(served) -> list[tuple[str, str | None]]:
    return [(r.item_id, r.reason) for r in served]


def _json_pairs(body: dict) -> list[tuple[str, str | None]]:
    return [(r["item_id"], r["reason"]) for r in body["items"]]


@pytest.mark.parametrize("model", MODELS_HERE)
def test_every_path_serves_the_same_items_and_reasons(shop, model):
    engine, server, oos, hidden, small_shop = shop
    rec, view, _ = engine.pipeline.source.load(model)
    for user in _shoppers(small_shop):
        served = engine.recommend(user, N, model)
        expected = _pairs(served)
        assert len(expected) == N and all(reason for _, reason in expected)  # every item says why
        bought = set(small_shop.events.loc[(small_shop.events["user_id"] == user)
                                           & (small_shop.events["event_type"] == "purchase"), "item_id"].astype(str))
        shown = {i for i, _ in expected}
        assert oos not in shown and hidden not in shown and not shown & bought

        with server.client("read") as c:
            first = c.get(f"/users/{user}/recommendations", params={"n": N, "model": model})
            again = c.get(f"/users/{user}/recommendations", params={"n": N, "model": model})  # the list cache
        assert first.status_code == 200 and _json_pairs(first.json()) == expected
        assert _json_pairs(again.json()) == expected
        assert again.json()["recommendation_id"] == first.json()["recommendation_id"]  # the cached list

        [(_, batch)] = batch_lists(rec, view, [user], N, exclude_types=["purchase"], reasons=True,
                                   rules=engine.settings.rules)  # stock: the view catalogue's, as trained
        assert _pairs(batch) == expected

        for item_id, reason in expected:
            assert engine.explain(user, item_id, model)[0] == reason

        if {"live", "sequence", "global", "ranking"} & rec.capabilities:
            # an anonymous session with the same events is served as the known shopper
            ev = small_shop.events[small_shop.events["user_id"] == user]
            body = {"events": [{"item_id": str(i), "event_type": t, "timestamp": float(ts)} for i, t, ts in
                               zip(ev["item_id"], ev["event_type"], ev["timestamp"], strict=True)],
                    "n": N, "model": model}
            with server.client("read") as c:
                session = c.post("/session/recommendations", json=body)
            assert session.status_code == 200 and _json_pairs(session.json()) == expected
            local = engine.recommend_session([e["item_id"] for e in body["events"]],
                                             [e["event_type"] for e in body["events"]],
                                             np.array([e["timestamp"] for e in body["events"]]), N, model)
            assert _pairs(local) == expected


def test_the_precomputed_list_is_the_served_one(shop):
    engine, server, _, _, small_shop = shop
    user = str(small_shop.user_ids[7])
    deadline = time.monotonic() + 120
    with server.client("read") as c:
        while time.monotonic() < deadline:
            status = c.get("/healthz").json().get("precomputed", {})
            if status.get("passes", 0) >= 1:
                break
            time.sleep(0.5)
        assert status.get("passes", 0) >= 1, status
        body = c.get(f"/users/{user}/recommendations", params={"n": N}).json()
    assert _json_pairs(body) == _pairs(engine.recommend(user, N, "hybrid"))


def test_recommend_batch_writes_the_lists_of_the_one_path(shop, tmp_path):
    _, _, _, _, small_shop = shop
    small_shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_csv(tmp_path / "events.csv", index=False)
    users = [str(u) for u in small_shop.user_ids[:20]] + ["nobody-knows-me"]
    (tmp_path / "users.txt").write_text("\n".join(users) + "\n")
    out = recommend_batch(tmp_path / "events.csv", tmp_path / "users.txt", "itemknn", N, tmp_path / "recs.csv",
                          exclude_types=["purchase"], report=lambda _: None, reasons=True)
    _, _, view = read_batch_inputs(tmp_path / "events.csv", report=lambda _: None)
    rec = MODELS["itemknn"]().fit(view)
    for user, served in batch_lists(rec, view, users, N, exclude_types=["purchase"], reasons=True):
        rows = out[out["user_id"] == user].sort_values("rank")
        assert list(zip(rows["item_id"], rows["reason"], strict=True)) == _pairs(served)
    cold = out[out["user_id"] == "nobody-knows-me"]
    assert len(cold) == N and cold["reason"].str.startswith("unknown shopper").all()


def test_rules_that_leave_nothing_give_an_empty_list_not_an_error(shop):
    """A category no item is in (a merchandiser's typo, saved or previewed) leaves every model
    an empty list; the hybrid's reasons once divided by its zero shown rows."""
    engine, server, _, _, small_shop = shop
    user = _shoppers(small_shop)[0]
    nothing = RuleSet(include_categories=["No such category"])
    for model in MODELS_HERE:
        assert engine.recommend(user, N, model, rules=nothing).items == [], model
    with server.client("read") as c:
        res = c.get(f"/users/{user}/recommendations", params={"n": N, "include_category": "No such category"})
    assert res.status_code == 200 and res.json()["items"] == []
