"""Pseudonymised shopper ids (``privacy.pseudonyms``): stable under one secret, different
under another, never the id; CSV exports through the CLI name shoppers by pseudonym when
``security.pseudonymise_exports`` is on; log lines through a real logger lose path ids. (The
real server's access log and /metrics are checked in tests/api/test_tls.py.)"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import stat

import pandas as pd
import pytest
from typer.testing import CliRunner

from shelfwise.cli.main import app
from shelfwise.config import Settings
from shelfwise.data.synthetic import generate_shop
from shelfwise.engine import Engine
from shelfwise.privacy.pseudonyms import LogFilter, Pseudonyms

runner = CliRunner(env={"COLUMNS": "300"})


def test_pseudonyms_are_stable_keyed_hashes(tmp_path, monkeypatch):
    monkeypatch.delenv("SHELFWISE_PSEUDONYM_KEY", raising=False)
    names = Pseudonyms.from_settings(Settings(home=tmp_path))
    path = tmp_path / "pseudonym.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_bytes().strip()
    # the known answer: HMAC-SHA256 of the id under the file's secret, 20 hex characters
    assert names("alice") == "p_" + hmac.new(secret, b"alice", hashlib.sha256).hexdigest()[:20]
    assert Pseudonyms.from_settings(Settings(home=tmp_path))("alice") == names("alice")  # the same file
    assert names("alice") != names("bob") and "alice" not in names("alice")
    monkeypatch.setenv("SHELFWISE_PSEUDONYM_KEY", "another secret of the shop")
    assert Pseudonyms.from_settings(Settings(home=tmp_path))("alice") != names("alice")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonyms(b"short")


def test_log_lines_name_no_shopper(tmp_path):
    names = Pseudonyms(b"0123456789abcdef0123456789abcdef")
    logger = logging.getLogger("shelfwise.test-pseudonyms")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.addFilter(LogFilter(names))
    try:
        # the shape of uvicorn's access line: the path is an argument, not in the format
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET",
                    "/users/jane%40example.com/recommendations?n=5", "1.1", 200)
        logger.warning("could not serve /users/u-991/explain")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "jane" not in text and "u-991" not in text
    assert f"GET /users/{names('jane@example.com')}/recommendations?n=5 HTTP/1.1" in text
    assert f"/users/{names('u-991')}/explain" in text


@pytest.mark.parametrize(("path", "named"), [
    ("/api/user/{}/feedback/star", "/api/user/{}/feedback/star"),
    ("/api/recommend/{}?n=3", "/api/recommend/{}?n=3"),
    ("/api/feedback/{}/i1", "/api/feedback/{}/i1"),
    ("/api/feedback/star/{}/i1/", "/api/feedback/star/{}/i1/"),
    ("/dashboard/shoppers/{}", "/dashboard/shoppers/{}"),
    ("/audiences?user_id={}&n=2", "/audiences?user_id={}&n=2"),
])
def test_every_route_that_names_a_shopper_is_pseudonymised(path, named):
    names = Pseudonyms(b"0123456789abcdef0123456789abcdef")
    assert names.in_text(f'"GET {path.format("kim-42")} HTTP/1.1" 200') == \
        f'"GET {named.format(names("kim-42"))} HTTP/1.1" 200'


def test_cli_exports_name_shoppers_by_pseudonym(tmp_path):
    shop = generate_shop(n_users=300, n_items=200, seed=11)
    engine = Engine(Settings(home=tmp_path))
    engine.upsert_items(shop.items)
    engine.ingest(shop.events)
    engine.train(["ease"])
    engine.close()
    item = shop.events.loc[shop.events["event_type"] == "purchase", "item_id"].value_counts().index[0]
    args = ["audience", "--item", item, "-n", "25", "-m", "ease", "--home", str(tmp_path), "--out"]
    assert runner.invoke(app, [*args, str(tmp_path / "plain.csv")]).exit_code == 0
    res = runner.invoke(app, [*args, str(tmp_path / "named.csv")],
                        env={"SHELFWISE_SECURITY__PSEUDONYMISE_EXPORTS": "1"})
    assert res.exit_code == 0, res.output
    plain, named = pd.read_csv(tmp_path / "plain.csv"), pd.read_csv(tmp_path / "named.csv")
    names = Pseudonyms.from_settings(Settings(home=tmp_path))
    assert len(plain) == 25 and list(named["user_id"]) == [names(u) for u in plain["user_id"]]
    assert list(named["score"]) == list(plain["score"])
    text = (tmp_path / "named.csv").read_text()
    assert not any(u in text for u in plain["user_id"])
