"""Engine.evaluate and `shelfwise evaluate` measure what the engine would serve: cold-start
shoppers get the popularity fallback and count, and tuned parameters are the ones scored."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shelfwise.cli import app
from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.tuning import TuneResult

runner = CliRunner()

# train popularity (distinct users): y 3, x 2, w 2, z 1. The temporal cut-off (80% quantile of
# times 1..10) is 8.2, so the last two events are the test: a (known) wants y, "new" wants w.
EVENTS = pd.DataFrame(
    [("a", "x", 1), ("b", "y", 2), ("b", "z", 3), ("c", "y", 4), ("c", "x", 5), ("d", "y", 6),
     ("d", "w", 7), ("e", "w", 8), ("a", "y", 9), ("new", "w", 10)],
    columns=["user_id", "item_id", "timestamp"]).assign(event_type="view")


@pytest.fixture()
def tiny(tmp_path):
    eng = Engine(Settings(home=tmp_path))
    eng.ingest(EVENTS)
    return eng


def test_cold_start_shoppers_count_with_the_fallback_list(tiny):
    frame = tiny.evaluate(["popular"], protocol="temporal")
    row = frame.loc["popular"]
    assert (row["test_users"], row["cold_users"]) == (2, 1)
    # a: y is 1st (x seen); new: the shop's list y, x, w, z (x before w on the tie) puts w 3rd
    assert row["hr@10"] == pytest.approx(1.0)
    assert row["ndcg@10"] == pytest.approx((1 + 1 / np.log2(4)) / 2)


def test_cli_evaluate_says_how_many_shoppers_were_new(tiny, tmp_path):
    res = runner.invoke(app, ["evaluate", "--home", str(tmp_path), "--protocol", "temporal",
                              "-m", "popular", "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    assert "2 test users, 1 unknown to training" in " ".join(res.output.split())
    assert "1 unknown to training" in (tmp_path / "rep" / "report.md").read_text()
    assert "Fairness:" in res.output and "exposure_gini@10" in res.output  # evaluation.fairness, printed


def test_cli_evaluate_rejects_an_unknown_protocol_in_one_line(tiny, tmp_path):
    res = runner.invoke(app, ["evaluate", "--home", str(tmp_path), "--protocol", "random"])
    assert res.exit_code == 2 and "Invalid value for '--protocol'" in res.output  # the parser's check
    assert "Traceback" not in res.output
    empty = runner.invoke(app, ["evaluate", "--home", str(tmp_path / "empty")])
    assert empty.exit_code == 2 and "holds no events" in empty.output


def test_the_cold_start_fallback_uses_populars_tuned_parameters(tiny):
    # a half-life of one second puts w (touched at t=7 and t=8, the latest) first for new
    TuneResult("popular", {"half_life_days": 1 / 86400}, 0.0, 0.0, pd.DataFrame()).save(
        tiny.tuned_dir / "popular.json")
    frame = tiny.evaluate(["itemknn"], protocol="temporal")
    untuned = tiny.evaluate(["itemknn"], protocol="temporal",
                            params={"popular": {"half_life_days": None}})
    assert frame.loc["itemknn", "mrr@10"] - untuned.loc["itemknn", "mrr@10"] == pytest.approx(
        (1 - 1 / 3) / 2)  # new's hit moves from rank 3 to rank 1


def test_evaluate_scores_the_tuned_parameters_train_would_use(tmp_path, small_shop):
    eng = Engine(Settings(home=tmp_path))
    eng.ingest(small_shop.events)
    default = eng.evaluate(["itemknn"]).loc["itemknn"]
    explicit = eng.evaluate(["itemknn"], params={"itemknn": {"k": 3}}).loc["itemknn"]
    assert explicit["ndcg@10"] != default["ndcg@10"]
    TuneResult("itemknn", {"k": 3}, 0.0, 0.0, pd.DataFrame()).save(eng.tuned_dir / "itemknn.json")
    eng.train(["itemknn"])
    assert eng._load("itemknn")[0].get_params()["k"] == 3  # what train serves
    tuned = eng.evaluate(["itemknn"]).loc["itemknn"]
    assert tuned["ndcg@10"] == explicit["ndcg@10"]
    # explicit parameters still win over tuned ones, as in train
    overridden = eng.evaluate(["itemknn"], params={"itemknn": {"k": 100}}).loc["itemknn"]
    assert overridden["ndcg@10"] == default["ndcg@10"]
