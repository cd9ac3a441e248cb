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
from shelfwise.tuning import SPACES, centred_space, epoch_pruner, neighbours, tune

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
    trials = result.trials
    if "user_attrs_defaults" in trials:  # the defaults are in the space: they are trial 0
        assert trials["user_attrs_defaults"].fillna(False).tolist() == [True, False, False, False]
        assert trials["value"].iloc[0] == pytest.approx(result.default_ndcg)
        trials = trials.iloc[1:]
    values = trials["value"].dropna()
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


def _distributions(space) -> dict:
    import optuna

    trial = optuna.create_study().ask()
    space(trial)
    return trial.distributions


def test_the_sequence_space_is_centred_on_the_defaults():
    defaults = create("sasrec").get_params()
    d = _distributions(SPACES["sasrec"])
    assert d["dim"].choices == (defaults["dim"] // 2, defaults["dim"], defaults["dim"] * 2)
    assert d["max_len"].choices == (defaults["max_len"] // 2, defaults["max_len"],
                                    defaults["max_len"] * 2)
    assert (d["layers"].low, d["layers"].high) == (defaults["layers"] - 1, defaults["layers"] + 1)
    assert (d["dropout"].low + d["dropout"].high) / 2 == pytest.approx(defaults["dropout"])
    assert d["lr"].log and d["lr"].low * d["lr"].high == pytest.approx(defaults["lr"] ** 2)
    # GRU4Rec's own default of one layer is the bottom of its range (no zero layers)
    assert (_distributions(SPACES["gru4rec"])["layers"].low,
            _distributions(SPACES["gru4rec"])["layers"].high) == (1, 2)


def test_the_space_moves_with_the_defaults():
    d = _distributions(centred_space({"dim": 48, "heads": 4, "layers": 3, "dropout": 0.05,
                                      "lr": 1e-3, "max_len": 200}))
    assert d["dim"].choices == (24, 48, 96)  # each divisible by the 4 heads
    assert (d["layers"].low, d["layers"].high) == (2, 4)
    assert (d["dropout"].low, d["dropout"].high) == pytest.approx((0.0, 0.25))
    assert (d["lr"].low, d["lr"].high) == pytest.approx((2.5e-4, 4e-3))
    assert d["max_len"].choices == (100, 200, 400)


def test_pruned_trials_stop_at_their_first_epoch_and_the_defaults_run_on(small_shop):
    """A pruner that prunes every report: each search trial ends after one epoch, trial 0
    (the defaults, never pruned) trains on, and, nothing having beaten it, stays best."""
    import optuna

    result = tune(small_shop.events, "sasrec", minutes=2, max_trials=3, seed=0,
                  pruner=optuna.pruners.ThresholdPruner(lower=2.0),  # NDCG is never >= 2
                  fixed={"max_epochs": 3, "patience": 3})
    t = result.trials
    assert t["state"].tolist() == ["COMPLETE"] + ["PRUNED"] * 3
    # the first search trials are the defaults' one-step neighbours, in MOVES order
    first = neighbours(create("sasrec").get_params())[:3]
    assert [{k: t[f"params_{k}"].iloc[i] for k in first[0]} for i in (1, 2, 3)] == first
    assert t["user_attrs_epochs"].iloc[1:].tolist() == [1, 1, 1]
    assert t["user_attrs_epochs"].iloc[0] == 3
    defaults = create("sasrec").get_params()
    assert {k: t[f"params_{k}"].iloc[0] for k in result.best_params} == {
        k: defaults[k] for k in result.best_params}
    assert result.best_params == {k: defaults[k] for k in result.best_params}
    assert result.best_ndcg == result.default_ndcg == pytest.approx(t["value"].iloc[0])


def test_the_pruner_stops_a_trial_behind_the_defaults_at_epoch_two_not_one():
    import optuna

    study = optuna.create_study(direction="maximize", pruner=epoch_pruner())
    curves = {"defaults": [0.10, 0.20, 0.25], "behind": [0.12, 0.15], "ahead": [0.05, 0.22]}
    verdicts = {}
    for name, curve in curves.items():
        trial = study.ask()
        verdicts[name] = []
        for epoch, value in enumerate(curve, start=1):
            trial.report(value, epoch)
            verdicts[name].append(trial.should_prune())
        study.tell(trial, curve[-1])
    # no rung at epoch 1; at epoch 2 a trial must be the best of the first trials there
    assert verdicts == {"defaults": [False, False, False], "behind": [False, True],
                        "ahead": [False, False]}


def test_neighbours_move_one_parameter_one_step_inside_the_space():
    defaults = {"dim": 64, "heads": 2, "layers": 1, "dropout": 0.05, "lr": 1e-3,
                "max_len": 50, "item_groups": True}
    points = neighbours(defaults)
    moved = [{k: v for k, v in p.items() if v != defaults[k]} for p in points]
    assert moved == [{"lr": pytest.approx(1.5e-3)}, {"max_len": 25}, {"dim": 128},
                     {"layers": 2}, {"dropout": pytest.approx(0.15)},
                     {"lr": pytest.approx(1e-3 / 1.5)}, {"max_len": 100},
                     {"item_groups": False}]  # no dropout below 0, no layers below 1


def test_a_negative_tuning_budget_is_refused_before_any_work(tmp_path):
    res = runner.invoke(app, ["recommend-batch", "--events", str(tmp_path / "none.csv"),
                              "--users", str(tmp_path / "none.txt"), "--model", "sasrec",
                              "--out", str(tmp_path / "recs.csv"), "--tune-minutes", "-3"])
    assert res.exit_code == 2
    assert "--tune-minutes" in res.output and not (tmp_path / "recs.csv").exists()
