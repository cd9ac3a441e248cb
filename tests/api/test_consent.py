"""Consent: a shopper who withholds personalisation consent is never trained on, gets the
list an unknown shopper gets (marked "personalised": false), is logged without their id, and
a consent change binds their very next list in every process sharing the online state."""

from __future__ import annotations

import uuid

from shelfwise.config import Settings
from shelfwise.data.schemas import User
from shelfwise.engine import Engine
from tests.api.conftest import start_server

REDIS = "redis://127.0.0.1:6379/0"


def _ids(served) -> list[str]:
    return [r.item_id for r in served]


def test_no_consent_means_no_training_and_an_anonymous_list(tmp_path, small_shop):
    engine = Engine(Settings(home=tmp_path, impressions={"flush_seconds": 0.05}))
    engine.store.upsert_items(small_shop.items)
    engine.upsert_users(small_shop.users)
    engine.ingest(small_shop.events)
    withheld = set(small_shop.users.loc[~small_shop.users["consent"], "user_id"].astype(str))
    assert withheld, "the synthetic shop has shoppers without consent"
    view = engine.training_view()
    assert withheld.isdisjoint(view.user_ids)  # their events never reach a model
    kept = small_shop.events[~small_shop.events["user_id"].astype(str).isin(withheld)]
    assert view.n_users == kept["user_id"].nunique()
    engine.train(["itemknn", "userknn"])
    user = sorted(withheld)[0]
    assert len(engine.store.user_history(user)) > 0  # their events are stored all the same
    for model in ("itemknn", "userknn"):
        served = engine.recommend(user, 5, model=model)
        anonymous = engine.recommend(f"nobody-{uuid.uuid4().hex}", 5, model=model)
        assert not served.personalised and _ids(served) == _ids(anonymous)
        assert all(r.reason.startswith("not personalised") for r in served)
        shown = engine.impressions.find(served.recommendation_id)
        assert set(shown["user_id"]) == {""}  # the impression log keeps no id of theirs
    explained = engine.explain(user, _ids(served)[0], model="itemknn")
    assert explained[0].startswith("not personalised")
    # the same shopper with consent given: their own list, from their own events
    engine.upsert_users([User(user_id=user, consent=True)])
    assert engine.recommend(user, 5, model="itemknn").personalised
    engine.close()


def test_a_consent_change_binds_the_next_list_in_every_process(tmp_path, small_shop):
    home, store = tmp_path / "home", f"sqlite:///{tmp_path / 'events.db'}"
    env = {"SHELFWISE_ONLINE__URL": REDIS, "SHELFWISE_ONLINE__NAMESPACE": f"consent-{uuid.uuid4().hex[:8]}"}
    settings = Settings(home=home, store_url=store, online={"url": env["SHELFWISE_ONLINE__URL"],
                                                            "namespace": env["SHELFWISE_ONLINE__NAMESPACE"]})
    engine = Engine(settings)
    engine.ingest(small_shop.events)
    engine.train(["itemknn"])
    server = start_server(home, store, env)
    try:
        user = str(small_shop.events["user_id"].iloc[0])
        with server.client("admin") as c:
            first = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
            again = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
            assert first.get("personalised"), first
            assert again["recommendation_id"] == first["recommendation_id"]  # cached
            engine.upsert_users([User(user_id=user, consent=False)])  # another process withdraws it
            after = c.get(f"/users/{user}/recommendations", params={"n": 5}).json()
            assert not after["personalised"] and after["recommendation_id"] != first["recommendation_id"]
            assert after["fallback"].startswith("not personalised")
            put = c.put(f"/users/{user}", json={"attributes": {}, "consent": True})
            assert put.status_code == 200, put.text
        assert engine.recommend(user, 5).personalised  # given back over HTTP: this process sees it
        assert _ids(engine.recommend(user, 5)) == [i["item_id"] for i in first["items"]]
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)
        engine.close()
