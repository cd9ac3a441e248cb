"""The dashboard's Experiments page (in-process app, SQLite store): per-variant statistics as
``GET /experiments/{id}`` gives them, and the sample-ratio flag on a planted 45/55 split that
should have been 50/50; an interleaving experiment's preference in words."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from shelfwise.api.app import create_app
from shelfwise.api.keys import KeyStore
from shelfwise.config import Settings
from shelfwise.dashboard.auth import COOKIE, make_cookie, server_secret
from shelfwise.engine import Engine


def _row(rid, user, exp, variant, item="i1", pos=1):
    return {"recommendation_id": rid, "position": pos, "item_id": item, "user_id": user, "created_at": 2e9,
            "model": "itemknn", "version": "v", "policy": "ranked", "source": "ranked", "experiment": exp,
            "variant": variant}


def test_experiments_page_shows_statistics_and_flags_a_broken_split(tmp_path):
    engine = Engine(Settings(home=tmp_path, store_url=f"sqlite:///{tmp_path / 'events.db'}"))
    broken = engine.experiments.create("broken split", [{"name": "control"}, {"name": "new"}], now=1e9)
    eid = broken["experiment_id"]
    # 2000 shoppers seen, 900 in control and 1100 in "new": a planted 45/55 split of a 50/50 test
    engine.store.log_impressions([_row(f"r{k}", f"u{k}", eid, "control" if k < 900 else "new") for k in range(2000)])
    engine.experiments.stop(eid, now=1.5e9)
    inter = engine.experiments.create("knn vs rules", [{"name": "knn"}, {"name": "rules"}], kind="interleave",
                                      now=1.6e9)
    iid = inter["experiment_id"]
    rows = []
    for k in range(30):  # three lists, two items each; the knn team's item is clicked in 20
        rows += [_row(f"x{k}", f"u{k}", iid, "knn", "i1", 1), _row(f"x{k}", f"u{k}", iid, "rules", "i2", 2)]
    engine.store.log_impressions(rows)
    engine.ingest([{"user_id": f"u{k}", "item_id": "i1", "event_type": "view", "timestamp": 2e9 + 1,
                    "context": {"recommendation_id": f"x{k}"}} for k in range(20)])
    _, key = KeyStore(engine.store.engine).create("viewer", ["read"])
    record = KeyStore(engine.store.engine).check(key)
    cookie = make_cookie(server_secret(tmp_path), record.key_id)
    with TestClient(create_app(engine=engine)) as client:
        client.cookies.set(COOKIE, cookie)
        page = client.get("/dashboard/experiments")
        assert page.status_code == 200
        html = page.text
        assert "broken split" in html and "Sample-ratio mismatch" in html and "900, 1100" in html
        assert 'aria-current="page"' in html and ">Experiments</a>" in html
        assert "knn vs rules" in html and "won 20, lost 0, tied 10" in html
        assert "Preferred: <strong>knn</strong>" in html
        api = client.get(f"/experiments/{eid}", headers={"Authorization": f"Bearer {key}"}).json()
        assert api["srm"]["flagged"] and api["srm"]["observed"] == [900, 1100]
        assert [v["shoppers"] for v in api["variants"]] == [900, 1100]
        assert np.isclose(api["variants"][0]["share"], 0.5)
        client.cookies.clear()
        assert client.get("/dashboard/experiments", follow_redirects=False).status_code == 303
    engine.close()
