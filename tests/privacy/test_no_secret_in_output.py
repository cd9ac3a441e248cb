"""No password, token or key in what the engine prints: ``shelfwise config`` masks URL
passwords, secret query parameters and secret-named settings, and shows neither key; a data
key error names key ids, never a key; a store error carries no stored value."""

from __future__ import annotations

import base64

import pytest
from typer.testing import CliRunner

from shelfwise.cli.main import app
from shelfwise.config import Settings, masked
from shelfwise.engine import Engine
from shelfwise.store import open_store
from shelfwise.store.fields import key_id, new_key

runner = CliRunner(env={"COLUMNS": "300"})
PASSWORD, SSL_PASSWORD, REDIS_PASSWORD = "pg-Pa55word", "ssl-Pa55", "redis-Pa55"


def test_config_prints_no_secret(tmp_path):
    data_key = base64.b64encode(new_key()).decode()
    env = {"SHELFWISE_STORE_URL": f"postgresql://shop:{PASSWORD}@db.example/shop?sslpassword={SSL_PASSWORD}"
                                  "&sslmode=require",
           "SHELFWISE_ONLINE__URL": f"redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0",
           "SHELFWISE_DATA_KEY": data_key, "SHELFWISE_PSEUDONYM_KEY": "pseudonym-secret-of-the-shop"}
    res = runner.invoke(app, ["config", "--home", str(tmp_path)], env=env)
    assert res.exit_code == 0, res.output
    for secret in (PASSWORD, SSL_PASSWORD, REDIS_PASSWORD, data_key, "pseudonym-secret"):
        assert secret not in res.output
    assert 'store_url = "postgresql://shop:***@db.example/shop?sslpassword=***&sslmode=require"' in res.output
    assert 'online.url = "redis://:***@127.0.0.1:6379/0"' in res.output
    assert 'security.data_key_file = ""' in res.output  # a path setting, shown; the key itself is not a setting


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("dashboard.password", "hunter2", "***"), ("gorse.api_key", "k-123", "***"), ("x.token", "t", "***"),
    ("x.secret", "s", "***"), ("serve.ssl_keyfile", "/etc/tls/key.pem", "/etc/tls/key.pem"),
    ("dashboard.password", "", ""),
])
def test_secret_named_settings_are_masked(name, value, shown):
    assert masked(name, value) == shown


def test_a_wrong_key_error_names_ids_not_keys(tmp_path, monkeypatch):
    right, wrong = new_key(), new_key()
    monkeypatch.setenv("SHELFWISE_DATA_KEY", base64.b64encode(right).decode())
    home = tmp_path / "home"
    engine = Engine(Settings(home=home))
    engine.ingest([{"user_id": "u1", "item_id": "i1", "event_type": "view", "timestamp": 1.7e9,
                    "context": {"city": "Lyon"}}])
    engine.close()
    monkeypatch.setenv("SHELFWISE_DATA_KEY", base64.b64encode(wrong).decode())
    res = runner.invoke(app, ["train", "-m", "popular", "--home", str(home)])
    text = res.output
    assert res.exit_code == 2 and key_id(right) in text and key_id(wrong) in text, text
    assert base64.b64encode(right).decode() not in text and base64.b64encode(wrong).decode() not in text


def test_store_errors_carry_no_stored_value(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'e.db'}")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (a TEXT NOT NULL UNIQUE)")
        conn.exec_driver_sql("INSERT INTO t VALUES ('shopper-42@example.com')")
    with pytest.raises(Exception) as caught, store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (?)", ("shopper-42@example.com",))
    assert "shopper-42" not in str(caught.value) and "hidden due to hide_parameters" in str(caught.value)
    store.close()
