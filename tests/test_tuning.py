import json

import pandas as pd
from typer.testing import CliRunner

from shelfwise.cli import app
from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.tuning import SPACES, tune

runner = CliRunner()


def test_every_model_has_a_search_space():
    from shelfwise.models import MODELS

    assert set(SPACES) == set(MODELS)


def test_tuning_starts_from_the_defaults_and_never_reports_worse(small_shop):
    result = tune(small_shop.events, "itemknn", minutes=1, max_trials=5, seed=1)
    assert len(result.trials) == 5
    first = result.trials.iloc[0]
    assert first["params_k"] == 100 and first["params_weighting"] == "cosine"  # the defaults
    assert result.best_ndcg >= result.default_ndcg > 0
    assert set(result.best_params) == {"k", "shrink", "recency_decay", "weighting"}


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
