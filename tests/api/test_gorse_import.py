"""``shelfwise import --format gorse``: a Gorse export (JSON lines of users, items, feedback)
moved into shelfwise, and answered by ``/api`` as Gorse answered it."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shelfwise.api import gorse as gorse_api
from shelfwise.api.app import create_app
from shelfwise.api.keys import KeyStore
from shelfwise.cli import app as cli
from shelfwise.config import Settings
from shelfwise.data.gorse import feedback_event_id, gorse_item, gorse_user
from shelfwise.data.loaders import load_gorse
from shelfwise.data.validation import MalformedInput
from shelfwise.engine import Engine

runner = CliRunner(env={"COLUMNS": "300"})
USERS = [{"UserId": "bob", "Labels": {"gender": "M", "age": 24}, "Comment": "my user"},
         {"UserId": "amy", "Labels": ["vip"], "Comment": ""}]
ITEMS = [{"ItemId": "vuejs:vue", "IsHidden": False, "Categories": ["framework", "js"],
          "Timestamp": "2022-02-24T00:00:00Z", "Labels": ["ui"], "Comment": "Vue.js framework"},
         {"ItemId": "d3:d3", "IsHidden": True, "Categories": [], "Timestamp": "0001-01-01T00:00:00Z",
          "Labels": {"language": "JavaScript"}, "Comment": "D3"}]
FEEDBACK = [{"FeedbackType": "star", "UserId": "bob", "ItemId": "vuejs:vue", "Value": 3.5,
             "Timestamp": "2022-02-25T10:00:00Z", "Comment": "great"},
            {"FeedbackType": "read", "UserId": "amy", "ItemId": "d3:d3", "Value": 0,
             "Timestamp": "2022-02-26T00:00:00Z", "Comment": ""},
            {"FeedbackType": "dislike", "UserId": "amy", "ItemId": "vuejs:vue", "Value": 0,
             "Timestamp": "2022-02-27T00:00:00Z", "Comment": ""}]


def lines(*objects) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


@pytest.fixture
def export(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text(lines(*USERS, *ITEMS, *FEEDBACK))
    return path


def test_malformed_lines_are_reported_by_number(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(lines(USERS[0]) + "{not json\n" + lines([1, 2], {"Comment": "what am I"})
                    + "\n" + lines({**FEEDBACK[0], "ItemId": ""}, {**FEEDBACK[0], "Timestamp": "soon"},
                                   {**ITEMS[0], "Categories": "js"}, {**FEEDBACK[0], "Value": "high"}))
    with pytest.raises(MalformedInput) as failed:
        load_gorse(path)
    assert [(e.line, e.field) for e in failed.value.errors] == [
        (2, "json"), (3, "json"), (4, "json"), (6, "ItemId"), (7, "Timestamp"), (8, "Categories"), (9, "Value")]
    res = runner.invoke(cli, ["import", str(path), "--format", "gorse", "--home", str(tmp_path / "home")])
    assert res.exit_code == 2 and "line 7: Timestamp: Could not find format for \"soon\"" in res.output
    skipped = load_gorse(path, on_error="skip")
    assert len(skipped.errors) == 7 and list(skipped.users["user_id"]) == ["bob"]


def test_import_then_answered_as_gorse(tmp_path, export):
    home = tmp_path / "home"
    res = runner.invoke(cli, ["import", str(export), "--format", "gorse", "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert "received 2, added 2" in res.output and "dislike: 1" in res.output  # the unknown type: a note
    again = runner.invoke(cli, ["import", str(export), "--format", "gorse", "--home", str(home)])
    assert "added 0, already stored 2" in again.output

    engine = Engine(Settings(home=home))
    stored = engine.store.snapshot().sort_values("event_id")
    assert sorted(stored["event_id"]) == sorted([feedback_event_id("star", "bob", "vuejs:vue"),
                                                 feedback_event_id("read", "amy", "d3:d3")])
    assert dict(zip(stored["user_id"], stored["event_type"], strict=True)) == {"bob": "favorite", "amy": "view"}
    assert sorted((gorse_user(r) for r in engine.store.users().to_dict("records")), key=lambda u: u["UserId"]) == \
        sorted(USERS, key=lambda u: u["UserId"])
    assert [gorse_item(r) for r in engine.store.items().to_dict("records")] == sorted(ITEMS, key=lambda i: i["ItemId"])

    # the same history through /api: rows as Gorse wrote them (the unknown type was not imported)
    app = create_app(Settings(home=home))
    app.include_router(gorse_api.router)
    key = KeyStore(engine.store.engine).create("t", ["read"])[1]
    with TestClient(app, headers={"X-API-Key": key}) as c:
        page = c.get("/api/feedback").json()
        assert page == {"Cursor": "", "Feedback": sorted(FEEDBACK[:2], key=lambda f: (f["UserId"], f["ItemId"]))}
        assert c.get("/api/user/bob").json() == USERS[0]
        assert c.get("/api/item/d3:d3").json() == ITEMS[1]


def test_a_folder_of_exports(tmp_path):
    folder = tmp_path / "gorse"
    folder.mkdir()
    (folder / "users.jsonl").write_text(lines(*USERS))
    (folder / "items.jsonl").write_text(lines(*ITEMS))
    (folder / "feedback.jsonl").write_text(lines(*FEEDBACK[:2]) + lines({**FEEDBACK[0], "Timestamp": "x"}))
    with pytest.raises(MalformedInput) as failed:
        load_gorse(folder)
    assert [(e.line, e.field) for e in failed.value.errors] == [(3, "feedback.jsonl: Timestamp")]
    loaded = load_gorse(folder, on_error="skip")
    assert (len(loaded.events), len(loaded.items), len(loaded.users)) == (2, 2, 2)
