import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from shelfwise.cli import app
from shelfwise.config import Settings
from shelfwise.data.interactions import Interactions
from shelfwise.data.splits import leave_one_out
from shelfwise.engine import Engine
from shelfwise.evaluation.harness import evaluate_model, truth_from
from shelfwise.models import create
from shelfwise.tuning import SPACES, tune

runner = CliRunner()


def test_every_model_has_a_search_space():
    from shelfwise.models import MODELS

    assert set(SPACES) == set(MODELS)


def _independent_default_ndcg(events, model: str) -> float:
    split = leave_one_out(events)
    train = Interactions.from_events(split.train)
    users, truth = truth_from(split.test, train)
    return evaluate_model(create(model), train, users, truth, ks=(10,)).metrics["ndcg@10"]


@pytest.mark.parametrize("model", ["popular", "itemknn"])
def test_the_reported_default_score_is_the_defaults_score(small_shop, model):
    result = tune(small_shop.events, model, minutes=1, max_trials=3, seed=1)
    assert result.default_ndcg == pytest.approx(_independent_default_ndcg(small_shop.events, model))
    values = result.trials["value"].dropna()
    assert len(values) == 3
    assert result.best_ndcg == pytest.approx(max(result.default_ndcg, values.max()))


def test_the_defaults_are_kept_when_no_trial_beats_them(small_shop):
    # on the synthetic shop the three half-lives tried (1 to 70 days) all score below plain
    # counts, so the defaults stay: popular's half_life_days=None, not a drawn value
    result = tune(small_shop.events, "popular", minutes=1, max_trials=3, seed=1)
    assert (result.trials["value"] < result.default_ndcg).all()
    assert result.best_params == {"half_life_days": None}
    assert result.best_ndcg == result.default_ndcg


def test_tuned_parameters_become_the_shops_defaults(tmp_path, small_shop):
    eng = Engine(Settings(home=tmp_path))
    eng.ingest(small_shop.events)
    res = runner.invoke(app, ["tune", "rules", "--minutes", "0.05", "--home", str(tmp_path)])
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "tuned" / "rules.json").read_text())
    eng.train(["rules"])
    trained = eng._load("rules")[0].get_params()
    assert {k: trained[k] for k in saved["params"]} == saved["params"]


def test_recommend_batch_with_a_tuning_budget(tmp_path, small_shop):
    events = tmp_path / "events.csv"
    small_shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_csv(events, index=False)
    users = tmp_path / "users.txt"
    users.write_text("\n".join(small_shop.user_ids[:5]))
    out = tmp_path / "recs.csv"
    res = runner.invoke(app, ["recommend-batch", "--events", str(events), "--users", str(users),
                              "--model", "popular", "--k", "3", "--out", str(out),
                              "--tune-minutes", "0.05"])
    assert res.exit_code == 0, res.output
    assert "tuned popular" in res.output
    assert len(pd.read_csv(out)) == 15
