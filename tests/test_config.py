"""Settings from options, SHELFWISE_* variables, a TOML file and defaults, in that order."""

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shelfwise.cli import app
from shelfwise.config import Settings, describe

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[1] / "shelfwise.example.toml"


@pytest.fixture(autouse=True)
def _no_shelfwise_env(monkeypatch):
    import os

    for name in [n for n in os.environ if n.startswith("SHELFWISE_")]:
        monkeypatch.delenv(name)


def test_the_documented_sample_equals_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./.shelfwise/shelfwise.toml to pick up
    sample = tomllib.loads(SAMPLE.read_text())
    defaults = Settings().model_dump(mode="json", exclude={"config"}, exclude_none=True)
    assert sample == defaults  # TOML has no null: settings that default to None are comments


def test_file_then_environment_then_option(tmp_path, monkeypatch):
    (tmp_path / "shelfwise.toml").write_text(
        'models = ["ease", "als"]\ndefault_model = "ease"\n[behaviour_weights]\nview = 0.5\ncart = 9\n')
    monkeypatch.setenv("SHELFWISE_BEHAVIOUR_WEIGHTS__CART", "4")
    monkeypatch.setenv("SHELFWISE_DEFAULT_MODEL", "als")
    s = Settings.from_env(home=tmp_path, default_model=None)
    assert s.models == ["ease", "als"]  # file
    assert s.default_model == "als"  # environment beats file
    assert s.behaviour_weights["view"] == 0.5 and s.behaviour_weights["cart"] == 4.0
    assert s.behaviour_weights["purchase"] == 5.0  # nested: the rest keep their defaults
    assert Settings.from_env(home=tmp_path, default_model="rules").default_model == "rules"
    where = {name: origin for name, _, origin in describe(home=tmp_path)}
    assert where["models"] == f"file {tmp_path / 'shelfwise.toml'}"
    assert where["default_model"] == "env SHELFWISE_DEFAULT_MODEL"
    assert where["behaviour_weights.cart"] == "env SHELFWISE_BEHAVIOUR_WEIGHTS__CART"
    assert where["behaviour_weights.view"].startswith("file ")
    assert where["behaviour_weights.purchase"] == "default"
    assert where["home"] == "option"


def test_config_command_prints_values_and_sources(tmp_path, monkeypatch):
    cfg = tmp_path / "other.toml"
    cfg.write_text('import_chunk_rows = 5000\n')
    monkeypatch.setenv("SHELFWISE_STORE_URL", "sqlite:///elsewhere.db")
    res = runner.invoke(app, ["config", "--home", str(tmp_path), "--config", str(cfg)],
                        env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    lines = {line.split(" = ")[0]: line for line in res.output.splitlines()}
    assert "5000" in lines["import_chunk_rows"] and "other.toml" in lines["import_chunk_rows"]
    assert "elsewhere.db" in lines["store_url"] and "SHELFWISE_STORE_URL" in lines["store_url"]
    assert "default" in lines["behaviour_weights.purchase"]


@pytest.mark.parametrize(("text", "message"), [
    ('default_model = "magic"\n', "setting default_model: unknown model 'magic'"),
    ('[behaviour_weights]\nteleport = 1\n', "unknown behaviour(s) ['teleport']"),
    ('import_chunk_rows = 0\n', "setting import_chunk_rows"),
    ('models = [\n', "error:"),
])
def test_a_bad_setting_is_one_line_naming_it(tmp_path, text, message):
    (tmp_path / "shelfwise.toml").write_text(text)
    res = runner.invoke(app, ["train", "--home", str(tmp_path)])
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_a_named_config_file_must_exist(tmp_path):
    res = runner.invoke(app, ["config", "--config", str(tmp_path / "nope.toml")])
    assert res.exit_code == 2 and "does not exist" in res.output
