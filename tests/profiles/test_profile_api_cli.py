"""GET /users/{id}/profile and ``shelfwise profile``: the Engine's portrait, 404 / exit 2 with one
line for a shopper without events or consent, and events posted over HTTP counted at once."""

import pandas as pd
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shelfwise.api.app import create_app
from shelfwise.api.keys import KeyStore
from shelfwise.cli import app as cli
from shelfwise.config import Settings
from shelfwise.engine import Engine
from tests.profiles.test_portrait import ITEMS, U1, events

runner = CliRunner(env={"COLUMNS": "300"})


def test_api_and_cli(tmp_path):
    eng = Engine(Settings(home=tmp_path))
    eng.upsert_items(pd.DataFrame(ITEMS))
    eng.upsert_users(pd.DataFrame([{"user_id": "u3", "consent": False}]))
    eng.ingest(pd.concat([events("u1", U1), events("u3", U1)], ignore_index=True))
    key = KeyStore(eng.store.engine).create("t", ["read", "write"])[1]
    with TestClient(create_app(engine=eng), headers={"Authorization": f"Bearer {key}"}) as c:
        body = c.get("/users/u1/profile").json()
        assert body["rfm"]["frequency"] == 1 and body["categories"][0]["name"] == "Home > Kitchen"
        # one event and a batch over HTTP move the portrait before the answer
        c.post("/events", json={"user_id": "u1", "item_id": "B1", "event_type": "purchase",
                                "timestamp": U1[-1][2] + 60})
        c.post("/events", json={"events": [{"user_id": "u1", "item_id": "B2", "event_type": "purchase",
                                            "timestamp": U1[-1][2] + 120}]})
        assert c.get("/users/u1/profile").json()["rfm"]["frequency"] == 3
        # feedback deleted through Gorse's API leaves the portrait as the rest of the log makes it
        assert c.delete("/api/feedback/purchase/u1/B2").json() == {"RowAffected": 1}
        assert c.get("/users/u1/profile").json()["rfm"]["frequency"] == 2
        c.post("/events", json={"user_id": "u1", "item_id": "B2", "event_type": "purchase",
                                "timestamp": U1[-1][2] + 120})
        missing = c.get("/users/nobody/profile")
        assert missing.status_code == 404 and "no events" in missing.json()["detail"]
        refused = c.get("/users/u3/profile")
        assert refused.status_code == 404 and "consent" in refused.json()["detail"]
        assert c.get("/users/u1/profile", headers={"Authorization": "Bearer nope"}).status_code == 401
    where = ["--home", str(tmp_path)]
    shown = runner.invoke(cli, ["profile", "u1", *where])
    assert shown.exit_code == 0 and '"frequency": 3' in shown.output
    rebuilt = runner.invoke(cli, ["profile", "u1", "--rebuild", *where])
    assert rebuilt.exit_code == 0 and "rebuilt the portraits of 1 shoppers" in rebuilt.output
    assert '"frequency": 3' in rebuilt.output
    refused = runner.invoke(cli, ["profile", "u3", *where])
    assert refused.exit_code == 2 and "consent" in refused.output and len(refused.output.strip().splitlines()) == 1
    assert runner.invoke(cli, ["profile", *where]).exit_code == 2
    eng.close()


def test_profile_settings_are_checked():
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Settings(profiles={"timezone": "Mars/Olympus"})
    with pytest.raises(pydantic.ValidationError, match="lapsing_days"):
        Settings(profiles={"active_days": 60, "lapsing_days": 30})
    assert Settings(profiles={"timezone": "Europe/Paris"}).profiles.timezone == "Europe/Paris"


def test_preferred_hours_in_the_shops_time_zone(tmp_path):
    eng = Engine(Settings(home=tmp_path, profiles={"timezone": "Asia/Tokyo"}))  # UTC+9, no DST
    eng.upsert_items(pd.DataFrame(ITEMS))
    eng.ingest(events("u1", U1))
    # UTC 9 (twice), 20 (twice), 10: nine hours on, ties by hour
    assert eng.profile("u1")["preferred_hours"] == [5, 18, 19]
    eng.close()
