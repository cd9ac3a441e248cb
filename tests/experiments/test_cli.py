"""``shelfwise experiments create|list|status|stop`` on a home folder: the round trip, and
wrong input as one line with exit status 2."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from shelfwise.cli.experiments import parse_variant
from shelfwise.cli.main import app

runner = CliRunner(env={"COLUMNS": "300"})


def _run(*args, code=0):
    res = runner.invoke(app, list(args))
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    return res.output


def test_create_list_status_stop(tmp_path):
    home = ["--home", str(tmp_path)]
    eid = _run("experiments", "create", "diversity", "--variant", "control:0.5",
               "--variant", 'mmr:0.5:{"diversity": 0.6}', *home).strip()
    assert len(eid) == 16
    listed = _run("experiments", "list", *home)
    assert eid in listed and "running" in listed and "control 50%, mmr 50%" in listed
    status = json.loads(_run("experiments", "status", eid, *home))
    assert [v["name"] for v in status["variants"]] == ["control", "mmr"]
    assert status["variants"][1]["options"] == {"diversity": 0.6} and status["srm"]["observed"] == [0, 0]
    out = _run("experiments", "create", "again", "--variant", "a", "--variant", "b", *home, code=2)
    assert f"experiment {eid}" in out and "is running" in out
    assert f"stopped {eid}" in _run("experiments", "stop", eid, *home)
    assert "stopped" in _run("experiments", "list", *home)
    assert "is stopped already" in _run("experiments", "stop", eid, *home, code=2)
    assert "Unknown experiment" in _run("experiments", "status", "ffff", *home, code=2)


@pytest.mark.parametrize("variants, message", [
    (["a"], "variants: give 2 to 10 variants"),
    (["a:x", "b"], "the share after the name must be a number"),
    (["a:0.5:{bad", "b"], "the options are not JSON"),
    (["a:0.5:{\"model\": \"nope\"}", "b"], "variants[0].options.model: unknown model 'nope'"),
])
def test_bad_variants_are_one_line(tmp_path, variants, message):
    args = [a for v in variants for a in ("--variant", v)]
    out = _run("experiments", "create", "x", *args, "--home", str(tmp_path), code=2)
    assert message in out and len(out.strip().splitlines()) == 1


def test_parse_variant():
    assert parse_variant("a") == {"name": "a"}
    assert parse_variant("a:0.2:{\"explore\": true}") == {"name": "a", "share": 0.2, "options": {"explore": True}}
