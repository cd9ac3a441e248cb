"""Wrong input on the command line: one clear line, exit status 2, nothing lost."""

import json

import pytest
from typer.testing import CliRunner

from shelfwise.cli.main import app

runner = CliRunner(env={"COLUMNS": "300"})  # the parser's messages unwrapped


def one_line_error(res, *expected):
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    for text in expected:
        assert text in res.output, res.output
    return res


@pytest.fixture(scope="module")
def trained(tmp_path_factory, small_shop):
    home = tmp_path_factory.mktemp("trained")
    path = home / "shop.csv"
    small_shop.events[["user_id", "item_id", "event_type", "timestamp"]].to_csv(path, index=False)
    assert runner.invoke(app, ["import", str(path), "--home", str(home)]).exit_code == 0
    assert runner.invoke(app, ["train", "-m", "itemknn", "--home", str(home)]).exit_code == 0
    return home


@pytest.mark.parametrize(("args", "expected"), [
    (["import", "x.csv", "--on-error", "fial"], ["'fial' is not one of 'fail', 'skip'"]),
    (["import", "x.csv", "--format", "csv"], ["'csv' is not one of", "'events'", "'taobao'"]),
    (["evaluate", "--protocol", "random"], ["'random' is not one of 'loo-item', 'loo', 'temporal'"]),
    (["train", "-m", "magic"], ["'magic' is not one of", "'itemknn'", "'sasrec'"]),
    (["tune", "magic"], ["'magic' is not one of"]),
])
def test_options_with_fixed_values_are_checked_by_the_parser(tmp_path, args, expected):
    one_line_error(runner.invoke(app, [*args, "--home", str(tmp_path)]), *expected)


def test_recommend_batch_checks_the_model_name():
    batch = ["recommend-batch", "--events", "e", "--users", "u", "--out", "o", "-m", "magic"]
    one_line_error(runner.invoke(app, batch), "'magic' is not one of")


def test_train_and_evaluate_on_an_empty_store(tmp_path):
    one_line_error(runner.invoke(app, ["train", "--home", str(tmp_path)]), "holds no events")
    one_line_error(runner.invoke(app, ["evaluate", "--home", str(tmp_path)]), "holds no events")


def test_recommend_before_training(tmp_path):
    one_line_error(runner.invoke(app, ["recommend", "u1", "--home", str(tmp_path)]),
                   "No trained models: run `shelfwise train` first.")


def test_a_column_mapping_with_a_format_that_takes_none(tmp_path, data_dir):
    res = runner.invoke(app, ["import", str(data_dir / "taobao-userbehavior" / "UserBehavior_head.csv"),
                              "--format", "taobao", "--map", "a=user_id", "--home", str(tmp_path)])
    one_line_error(res, "The 'taobao' format takes no mapping option")
    bad = runner.invoke(app, ["import", "x.csv", "--map", "user_id", "--home", str(tmp_path)])
    one_line_error(bad, "--map takes SOURCE=column, got 'user_id'")


def test_unknown_ids_and_untrained_models(trained, small_shop):
    home = ["--home", str(trained)]
    res = one_line_error(runner.invoke(app, ["similar", "no-such-item", *home]),
                         "Unknown item 'no-such-item': it is not in the trained catalogue.")
    assert "\"'" not in res.output  # no KeyError-style quotes around the message
    one_line_error(runner.invoke(app, ["recommend", str(small_shop.user_ids[0]), "-m", "ease", *home]),
                   "Model 'ease' is not trained. Trained: itemknn, popular.")
    one_line_error(runner.invoke(app, ["similar", str(small_shop.item_ids[0]), "-m", "popular", *home]),
                   "does not answer similar-item queries")
    one_line_error(runner.invoke(app, ["recommend", "u1", "-n", "0", *home]), "-n")


def test_training_one_model_keeps_the_others(trained, small_shop):
    home = ["--home", str(trained)]
    item = str(small_shop.item_ids[0])
    before = runner.invoke(app, ["similar", item, "-n", "3", *home]).output
    assert runner.invoke(app, ["train", "-m", "rules", *home]).exit_code == 0
    assert runner.invoke(app, ["similar", item, "-n", "3", *home]).output == before  # itemknn kept
    assert runner.invoke(app, ["similar", item, "-n", "3", "-m", "rules", *home]).exit_code == 0
    active = json.loads((trained / "active.json").read_text())
    assert sorted(active) == ["itemknn", "popular", "rules"]
    assert active["itemknn"] != active["rules"] == active["popular"]  # itemknn's version kept


def test_demo_refuses_a_folder_it_did_not_make(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "precious.txt").write_text("keep me")
    one_line_error(runner.invoke(app, ["demo", "--home", str(mine), "--users", "50", "--items", "40"]),
                   "was not made by the demo")
    assert (mine / "precious.txt").read_text() == "keep me"
    afile = tmp_path / "afile"
    afile.write_text("x")
    one_line_error(runner.invoke(app, ["demo", "--home", str(afile)]), "was not made by the demo")
    assert afile.read_text() == "x"


def test_a_home_that_is_a_file_and_a_store_that_does_not_answer(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    one_line_error(runner.invoke(app, ["train", "--home", str(afile)]), "error:")
    res = runner.invoke(app, ["train", "--store-url", "postgresql://nobody@127.0.0.1:1/db",
                              "--home", str(tmp_path)])
    one_line_error(res, "cannot use the event store:")


def test_folder_formats_take_a_file_in_the_folder_too(tmp_path, data_dir):
    res = runner.invoke(app, ["import", str(data_dir / "tmall-multibehavior" / "train.txt"),
                              "--format", "tmall-multibehavior", "--home", str(tmp_path)])
    assert res.exit_code == 0, res.output
    empty = tmp_path / "no-inter"
    empty.mkdir()
    one_line_error(runner.invoke(app, ["import", str(empty), "--format", "recbole", "--home", str(tmp_path)]),
                   "no RecBole .inter file there")
