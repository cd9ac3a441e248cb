"""Personal fields encrypted at rest (``store.fields``) and the data key rotated
(``privacy.rotation``), on SQLite and PostgreSQL: the raw rows, read with the database's own
driver, hold no plaintext; the Engine reads it back; the old key alone reads nothing after a
rotation; a missing or wrong key is one line and exit 2."""

from __future__ import annotations

import base64
import sqlite3
import stat

import pytest
from typer.testing import CliRunner

from shelfwise.cli.main import app
from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.privacy.rotation import rotate_data_key
from shelfwise.store import open_store
from shelfwise.store.fields import DataKeyError, FieldCipher, KeyRing, key_id, new_key, write_key_file
from tests.api.conftest import free_port
from tests.store.conftest import store_url  # noqa: F401 - the sqlite / postgresql fixture

EMAIL, QUERY = "alice.martin@example.com", "wedding dress size 38"
runner = CliRunner(env={"COLUMNS": "300"})


def raw_rows(url: str) -> tuple[list[str], list[str]]:
    """(users.attributes, events.context) cells as stored, read without shelfwise."""
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("///", 1)[1]) as con:
            users = [r[0] for r in con.execute("SELECT attributes FROM users ORDER BY user_id")]
            events = [r[0] for r in con.execute("SELECT context FROM events ORDER BY seq")]
        return users, events
    import psycopg

    with psycopg.connect("postgresql://" + url.split("://", 1)[1]) as con:
        users = [r[0] for r in con.execute("SELECT attributes FROM users ORDER BY user_id")]
        events = [r[0] for r in con.execute("SELECT context FROM events ORDER BY seq")]
    return users, events


def fill(engine: Engine) -> None:
    engine.store.upsert_users([{"user_id": "u1", "attributes": {"email": EMAIL}, "consent": True},
                               {"user_id": "u2", "attributes": {}, "consent": True}])
    engine.ingest([{"user_id": "u1", "item_id": "i1", "event_type": "search", "timestamp": 1.7e9,
                    "context": {"query": QUERY}},
                   {"user_id": "u2", "item_id": "i2", "event_type": "view", "timestamp": 1.7e9 + 1}])


def test_fields_are_ciphertext_in_the_database_and_plaintext_through_the_engine(tmp_path, store_url):  # noqa: F811
    key = new_key()
    write_key_file(tmp_path / "data.key", [key])
    assert stat.S_IMODE((tmp_path / "data.key").stat().st_mode) == 0o600
    engine = Engine(Settings(home=tmp_path, store_url=store_url))
    fill(engine)
    users, events = raw_rows(store_url)
    assert users[0].startswith(f"sw1:{key_id(key)}:") and EMAIL not in users[0] and "alice" not in users[0]
    assert events[0].startswith(f"sw1:{key_id(key)}:") and "wedding" not in events[0]
    assert users[1] == "{}" and events[1] is None  # nothing to hide stays as it is
    assert engine.store.users().set_index("user_id").loc["u1", "attributes"] == {"email": EMAIL}
    assert engine.store.snapshot()["context"].tolist()[0] == '{"query": "' + QUERY + '"}'
    assert engine.store.user_history("u1")["context"].iloc[0] == '{"query": "' + QUERY + '"}'
    # a ciphertext moved to another shopper's row does not decrypt (bound to its row)
    with pytest.raises(DataKeyError, match="moved from another row"):
        engine.store.cipher.decrypt(users[0], "users.attributes\x1fu2")
    engine.close()


def test_rotation_re_encrypts_and_retires_the_old_key(tmp_path, store_url):  # noqa: F811
    # stored in plaintext first (no key configured), then the first rotation turns encryption on
    settings = Settings(home=tmp_path, store_url=store_url)
    engine = Engine(settings)
    assert engine.store.cipher is None
    fill(engine)
    from shelfwise.api.gorse.feedback_store import upsert_side

    upsert_side(engine, [{"user_id": u, "item_id": i, "feedback_type": "dislike", "value": 1.0, "timestamp": 1.7e9,
                          "comment": f"note {u} {i}"} for u, i in (("u1", "i1"), ("u1", "i2"), ("u2", "i1"))],
                overwrite=True)
    assert EMAIL in raw_rows(store_url)[0][0]
    first = rotate_data_key(settings, engine.store, batch=1, grace_seconds=0)  # walks (user, item, type) keys
    assert (first.profiles, first.contexts, first.comments, first.retired) == (1, 1, 3, ())
    old = base64.b64decode((tmp_path / "data.key").read_text().split()[0])
    assert stat.S_IMODE((tmp_path / "data.key").stat().st_mode) == 0o600
    users, events = raw_rows(store_url)
    assert users[0].startswith(f"sw1:{key_id(old)}:") and events[0].startswith(f"sw1:{key_id(old)}:")

    second = rotate_data_key(settings, engine.store, batch=1, grace_seconds=0)
    assert second.retired == (key_id(old),) and (second.profiles, second.contexts, second.comments) == (1, 1, 3)
    assert (tmp_path / "data.key").read_text().count("\n") == 1  # the old key is gone from the file
    users, events = raw_rows(store_url)
    assert users[0].startswith(f"sw1:{second.key_id}:") and events[0].startswith(f"sw1:{second.key_id}:")
    assert EMAIL not in users[0]
    engine.close()

    fresh = Engine(Settings(home=tmp_path, store_url=store_url))  # reads with the new key from the file
    assert fresh.store.users().set_index("user_id").loc["u1", "attributes"] == {"email": EMAIL}
    fresh.close()
    with open_store(store_url, cipher=FieldCipher(KeyRing([old], "the old key"))) as store:
        with pytest.raises(DataKeyError, match=f"under data key {second.key_id}, which the old key does not"):
            store.users()
        with pytest.raises(DataKeyError):
            store.snapshot()


def test_a_rotation_cut_off_midway_resumes_with_its_new_key(tmp_path, store_url):  # noqa: F811
    old, new = new_key(), new_key()
    write_key_file(tmp_path / "data.key", [old])
    settings = Settings(home=tmp_path, store_url=store_url)
    engine = Engine(settings)
    fill(engine)
    # as a crash leaves it: the file holds the new key first and the old one, rows under either
    write_key_file(tmp_path / "data.key", [new, old])
    engine.store.cipher.reload()
    engine.store.upsert_users([{"user_id": "u3", "attributes": {"phone": "+33 6 12 34 56 78"}}])
    done = rotate_data_key(settings, engine.store, grace_seconds=0)
    assert done.key_id == key_id(new) and done.retired == (key_id(old),)
    assert (done.profiles, done.contexts) == (1, 1)  # u3 was already under the new key
    assert all(v.startswith(f"sw1:{key_id(new)}:") for v in raw_rows(store_url)[0] if v != "{}")
    engine.close()


def test_a_missing_or_wrong_key_is_one_line_and_exit_2(tmp_path, monkeypatch):
    home = tmp_path / "home"
    write_key_file(home / "data.key", [new_key()])
    engine = Engine(Settings(home=home))
    fill(engine)
    engine.close()
    (home / "data.key").unlink()
    for env, expected in [({}, "is encrypted (data key"),
                          ({"SHELFWISE_DATA_KEY": base64.b64encode(new_key()).decode()},
                           "which SHELFWISE_DATA_KEY does not hold"),
                          ({"SHELFWISE_DATA_KEY": "not-a-key"}, "SHELFWISE_DATA_KEY: key 1 is not base64"),
                          ({"SHELFWISE_SECURITY__DATA_KEY_FILE": str(tmp_path / "nope.key")},
                           "security.data_key_file: " + str(tmp_path / "nope.key") + " does not exist")]:
        for args in (["train", "-m", "popular"], ["serve", "--port", str(free_port())]):
            # serve checks the key on what is stored before it listens
            res = runner.invoke(app, [*args, "--home", str(home)], env=env)
            assert res.exit_code == 2, res.output
            assert "Traceback" not in res.output and expected in res.output, res.output
            assert res.output.strip().count("\n") == 0, res.output


def test_cli_rotate_data_key_makes_the_key_file_then_rotates(tmp_path):
    home = tmp_path / "home"
    fill(Engine(Settings(home=home)))
    res = runner.invoke(app, ["keys", "rotate-data-key", "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert "re-encrypted 1 profile(s) and 1 event context(s)" in res.output and "retired" not in res.output
    first = key_id(base64.b64decode((home / "data.key").read_text().split()[0]))
    res = runner.invoke(app, ["keys", "rotate-data-key", "--home", str(home)])
    assert res.exit_code == 0, res.output
    assert f"key(s) {first} retired" in res.output
    assert Engine(Settings(home=home)).store.users().set_index("user_id").loc["u1", "attributes"] == {"email": EMAIL}


def test_the_dashboard_joins_encrypted_contexts_to_served_lists(tmp_path):
    from shelfwise.dashboard.figures import exposure

    write_key_file(tmp_path / "data.key", [new_key()])
    engine = Engine(Settings(home=tmp_path))
    engine.store.log_impressions([{"recommendation_id": "r1", "position": 1, "item_id": "i1", "user_id": "u1",
                                   "created_at": 1.7e9, "model": "popular", "version": "v", "policy": "p",
                                   "source": "ranked"}])
    engine.ingest([{"user_id": "u1", "item_id": "i1", "event_type": "click", "timestamp": 1.7e9 + 5,
                    "context": {"recommendation_id": "r1"}},
                   {"user_id": "u1", "item_id": "i1", "event_type": "purchase", "timestamp": 1.7e9 + 9,
                    "context": {"recommendation_id": "r1"}},
                   {"user_id": "u2", "item_id": "i1", "event_type": "click", "timestamp": 1.7e9 + 7,
                    "context": {"recommendation_id": "other"}}])
    assert all(c.startswith("sw1:") for c in raw_rows(f"sqlite:///{tmp_path / 'events.db'}")[1])
    seen = exposure(engine, "i1")
    assert (seen["shown"], seen["clicked"], seen["bought"]) == (1, 1, 1)
    engine.close()


def test_gorse_feedback_comments_are_encrypted_and_rotated(tmp_path):
    from shelfwise.api.gorse.feedback_store import feedback_of, upsert_side

    write_key_file(tmp_path / "data.key", [new_key()])
    settings = Settings(home=tmp_path)
    engine = Engine(settings)
    upsert_side(engine, [{"user_id": "u1", "item_id": "i1", "feedback_type": "dislike", "value": 1.0,
                          "timestamp": 1.7e9, "comment": "call me on 06 12 34 56 78"}], overwrite=True)
    with sqlite3.connect(tmp_path / "events.db") as con:
        stored = con.execute("SELECT comment FROM gorse_feedback").fetchone()[0]
    assert stored.startswith("sw1:") and "06 12" not in stored
    assert [r.feedback["Comment"] for r in feedback_of(engine, user_id="u1")] == ["call me on 06 12 34 56 78"]
    done = rotate_data_key(settings, engine.store, grace_seconds=0)
    assert (done.profiles, done.contexts, done.comments) == (0, 0, 1)
    with sqlite3.connect(tmp_path / "events.db") as con:
        assert con.execute("SELECT comment FROM gorse_feedback").fetchone()[0].startswith(f"sw1:{done.key_id}:")
    assert [r.feedback["Comment"] for r in feedback_of(engine, user_id="u1")] == ["call me on 06 12 34 56 78"]
    engine.close()


def test_every_field_the_schema_marks_personal_is_an_encrypted_column():
    from shelfwise.data.schemas import Event, User
    from shelfwise.store.fields import ENCRYPTED

    marked = {f"{table}.{name}" for table, model in (("events", Event), ("users", User))
              for name, field in model.model_fields.items() if (field.json_schema_extra or {}).get("personal")}
    assert marked == {"events.context", "users.attributes"} and marked <= set(ENCRYPTED)
