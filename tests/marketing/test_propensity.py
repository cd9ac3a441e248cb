"""Purchase propensity on a synthetic shop through a real Engine: it beats the base rate on the
temporal hold-out (the next window in time), is calibrated, and scores shoppers as of now."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from shelfwise.cli import app as cli
from shelfwise.config import Settings
from shelfwise.data.synthetic import generate_shop
from shelfwise.engine import Engine
from shelfwise.errors import NotTrained

runner = CliRunner(env={"COLUMNS": "300"})


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    shop = generate_shop(n_users=1500, n_items=600, seed=7)
    eng = Engine(Settings(home=tmp_path_factory.mktemp("propensity")))
    eng.upsert_items(shop.items)
    eng.ingest(shop.events)
    yield eng
    eng.close()


def test_beats_the_base_rate_on_a_temporal_holdout(engine):
    r = engine.marketing.fit_propensity("Grocery", days=30).report
    assert r["holdout_cutoff"] - r["train_cutoff"] == 30 * 86400  # the next window, never fitted on
    assert r["auc"] > 0.7
    assert r["log_loss"] < r["base_log_loss"] and r["brier"] < r["base_brier"]
    # calibrated: over the hold-out, the mean prediction is near the observed rate
    pts = r["reliability"]
    mean_p = sum(p["predicted"] * p["n"] for p in pts) / sum(p["n"] for p in pts)
    assert abs(mean_p - r["holdout_rate"]) < 0.03
    assert pts[-1]["observed"] > 3 * pts[0]["observed"]  # the top decile buys far more than the bottom


def test_scores_now_and_the_cli(engine, tmp_path):
    with pytest.raises(NotTrained, match="shelfwise propensity"):
        engine.marketing.propensity_scores("Toys", 30)
    out = tmp_path / "scores.csv"
    res = runner.invoke(cli, ["propensity", "Grocery", "--days", "30", "--out", str(out),
                              "--home", str(engine.settings.home)])
    assert res.exit_code == 0, res.output
    assert "AUC" in res.output and out.read_text().startswith("user_id,propensity\n")
    scores = engine.marketing.propensity_scores("Grocery", 30)
    assert len(scores) == 1500 and np.all(np.diff(scores.to_numpy()) <= 0) and scores.between(0, 1).all()
    saved = json.loads((engine.marketing.folder / "propensity" / "grocery-30d.json").read_text())
    assert saved["category"] == "Grocery" and (engine.marketing.folder / "propensity" / "grocery-30d.png").exists()
    bad = runner.invoke(cli, ["propensity", "Nowhere", "--home", str(engine.settings.home)])
    assert bad.exit_code == 2 and "category: no catalogue item is in 'Nowhere'" in bad.output
