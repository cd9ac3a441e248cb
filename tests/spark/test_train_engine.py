"""`shelfwise train --engine spark`: the models Spark fits are saved as the same model
versions and serve the same lists as a local training run."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from shelfwise.cli import app
from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.models.base import Recommender

runner = CliRunner()


def test_train_on_spark_serves_what_local_training_serves(tmp_path, small_shop, trainer):
    path = tmp_path / "shop.csv"
    small_shop.events.drop(columns=["event_id", "context"]).to_csv(path, index=False)
    homes = {engine: tmp_path / engine for engine in ("local", "spark")}
    for engine, home in homes.items():
        assert runner.invoke(app, ["import", str(path), "--home", str(home)]).exit_code == 0
        res = runner.invoke(app, ["train", "-m", "itemknn", "-m", "userknn", "--engine", engine,
                                  "--no-check", "--home", str(home)])
        assert res.exit_code == 0, res.output
    spark_engine = Engine(Settings(home=homes["spark"]))
    records = spark_engine.model_records()
    # itemknn and popular have Spark trainers; userknn (nothing to learn ahead) fits in-process
    assert {m: records[m]["engine"] for m in records} == {"itemknn": "spark", "popular": "spark",
                                                           "userknn": "local"}
    version = records["itemknn"]["version"]
    saved = json.loads((homes["spark"] / "versions" / version / "itemknn" / "model.json").read_text())
    assert saved["model"] == "itemknn"  # the same class, the same files: serving cannot tell
    local_engine = Engine(Settings(home=homes["local"]))
    for user in small_shop.user_ids[:20]:
        for model in ("itemknn", "popular"):
            a = [r.item_id for r in local_engine.recommend(str(user), n=5, model=model).items]
            b = [r.item_id for r in spark_engine.recommend(str(user), n=5, model=model).items]
            assert a == b and len(a) == 5
    model = Recommender.load(homes["spark"] / "versions" / version / "itemknn")
    local = Recommender.load(homes["local"] / "versions" / local_engine.model_records()["itemknn"]["version"]
                             / "itemknn")
    assert (model.similarity_ != local.similarity_).nnz == 0
    assert not list((homes["spark"] / "spark").glob("shelfwise-spark-*"))  # the Parquet copy is deleted
    assert trainer.spark.range(3).count() == 3  # the session the process already ran is left running
    spark_engine.close()
    local_engine.close()


def test_engine_option_and_setting_are_checked(tmp_path):
    res = runner.invoke(app, ["train", "--engine", "hadoop", "--home", str(tmp_path)])
    assert res.exit_code == 2 and "--engine must be 'local' or 'spark'" in res.output
    (tmp_path / "shelfwise.toml").write_text('[training]\nengine = "flink"\n')
    res = runner.invoke(app, ["train", "--home", str(tmp_path)])
    assert res.exit_code == 2 and "training.engine" in res.output
    (tmp_path / "shelfwise.toml").write_text('[training]\nspark_master = "hadoop://x"\n')
    res = runner.invoke(app, ["train", "--home", str(tmp_path)])
    assert res.exit_code == 2 and "setting training.spark_master: must be local[N], yarn" in res.output
