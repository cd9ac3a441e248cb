"""Acceptance: ``recommend-batch`` on Amazon Beauty leave-one-out, scored by an independent
path (``shelfwise evaluate --recs``) and by the in-process harness: both agree to 4 decimals
and ItemKNN clears NDCG@10 >= 0.035 (an independent well-tuned item-kNN: 0.0369;
MostPopular: 0.0062)."""

import re

import pytest
from typer.testing import CliRunner

from shelfwise.cli import app
from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_amazon, load_events
from shelfwise.data.splits import leave_one_out
from shelfwise.evaluation.harness import evaluate_model, truth_from
from shelfwise.models import create

runner = CliRunner()
COLUMNS = ["user_id", "item_id", "event_type", "timestamp"]


@pytest.fixture(scope="module")
def beauty_files(data_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("beauty")
    split = leave_one_out(load_amazon(data_dir / "amazon-beauty", "Beauty").events)
    split.train[COLUMNS].to_csv(folder / "train.csv", index=False)
    split.test[COLUMNS].to_csv(folder / "test.csv", index=False)
    (folder / "users.txt").write_text("\n".join(split.test["user_id"]) + "\n")
    return folder


def _cli_metrics(folder, recs) -> dict[str, float]:
    res = runner.invoke(app, ["evaluate", "--recs", str(recs), "--test", str(folder / "test.csv"),
                              "--train", str(folder / "train.csv")])
    assert res.exit_code == 0, res.output
    return {m: float(v) for m, v in re.findall(r"(\w+@\d+)\s*│\s*([0-9.]+)", res.output)}


@pytest.mark.slow
@pytest.mark.parametrize("model, floor, ceiling", [("itemknn", 0.035, 1.0), ("popular", 0.004, 0.009)])
def test_recommend_batch_on_beauty_reproduces_harness_figures(beauty_files, model, floor, ceiling):
    recs = beauty_files / f"{model}.csv"
    res = runner.invoke(app, ["recommend-batch", "--events", str(beauty_files / "train.csv"),
                              "--users", str(beauty_files / "users.txt"), "--model", model,
                              "--k", "20", "--out", str(recs)])
    assert res.exit_code == 0, res.output
    assert "22363 users" in res.output
    from_file = _cli_metrics(beauty_files, recs)

    train = Interactions.from_events(load_events(beauty_files / "train.csv").events)
    users, truth = truth_from(load_events(beauty_files / "test.csv").events, train)
    assert len(users) == 22_363
    harness = evaluate_model(create(model), train, users, truth).metrics

    assert floor <= harness["ndcg@10"] <= ceiling
    for name in ("ndcg@10", "hr@10", "mrr@10", "recall@20"):
        assert from_file[name] == pytest.approx(round(harness[name], 4), abs=5e-5), name
