"""``recommend-batch`` is how outside evaluators score any model on any events file: every
registered model must run on a real multi-behaviour log, and big catalogues and bare
``user,item`` files must work too."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shelfwise.cli import app
from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_taobao
from shelfwise.models import MODELS, create

runner = CliRunner()
COLUMNS = ["user_id", "item_id", "event_type", "timestamp"]
QUICK = {"max_minutes": 0.02, "refit_epochs": 1, "dim": 16, "layers": 1}  # sequence models


@pytest.fixture(scope="module")
def taobao_head(data_dir, tmp_path_factory):
    """43 full Taobao histories (views, favourites, carts, purchases) and their categories."""
    folder = tmp_path_factory.mktemp("taobao")
    ds = load_taobao(data_dir / "taobao-userbehavior" / "UserBehavior_head.csv")
    ds.events[COLUMNS].to_csv(folder / "events.csv", index=False)
    items = ds.items.assign(category=ds.items["category"].map(lambda c: f"cat {c[0]}"))
    items[["item_id", "category"]].to_csv(folder / "items.csv", index=False)
    users = sorted(ds.events["user_id"].unique())
    (folder / "users.txt").write_text("\n".join([*users, "newcomer"]) + "\n")
    return folder, ds.events


def _batch(folder, model, out, *extra):
    return runner.invoke(app, ["recommend-batch", "--events", str(folder / "events.csv"),
                               "--users", str(folder / "users.txt"), "--model", model,
                               "--k", "5", "--out", str(out), *extra])


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_serves_every_listed_user_from_a_real_log(taobao_head, tmp_path, model):
    folder, events = taobao_head
    params = QUICK if "sequence" in MODELS[model].capabilities else {}
    if model == "hybrid":
        params = {"retriever_params": {"sasrec": QUICK}}
    extra = ["--params", json.dumps(params)] if params else []
    if model.startswith("content"):
        extra += ["--items", str(folder / "items.csv")]
    res = _batch(folder, model, tmp_path / "recs.csv", *extra)
    assert res.exit_code == 0, res.output
    recs = pd.read_csv(tmp_path / "recs.csv", dtype=str)
    users = (folder / "users.txt").read_text().split()
    assert all(r == ["1", "2", "3", "4", "5"] for r in recs.groupby("user_id")["rank"].apply(list))
    assert sorted(recs["user_id"].unique()) == sorted(users)
    assert set(recs["item_id"]) <= set(events["item_id"])
    seen = set(zip(events["user_id"], events["item_id"], strict=True))
    assert not any((u, i) in seen for u, i in zip(recs["user_id"], recs["item_id"], strict=True))
    # a shopper the file has never seen gets the most popular items
    view = Interactions.from_events(events)
    popular = create("popular").fit(view).recommend(np.array([0]), 5, exclude_seen=False)[0][0]
    assert recs[recs.user_id == "newcomer"]["item_id"].tolist() == list(view.item_ids[popular])


@pytest.mark.parametrize("model", ["itemknn", "hybrid"])
def test_exclude_types_keeps_viewed_and_carted_items_eligible(taobao_head, tmp_path, model):
    folder, events = taobao_head
    extra = ["--exclude-types", "purchase", "--k", "20"]
    if model == "hybrid":
        extra += ["--params", json.dumps({"retriever_params": {"sasrec": QUICK}})]
    res = runner.invoke(app, ["recommend-batch", "--events", str(folder / "events.csv"), "--users",
                              str(folder / "users.txt"), "--model", model, "--out", str(tmp_path / "r.csv"),
                              *extra])
    assert res.exit_code == 0, res.output
    recs = pd.read_csv(tmp_path / "r.csv", dtype=str)
    pairs = set(zip(recs["user_id"], recs["item_id"], strict=True))
    bought = set(zip(*events[events["event_type"] == "purchase"][["user_id", "item_id"]].T.to_numpy(),
                     strict=True))
    touched = set(zip(events["user_id"], events["item_id"], strict=True))
    assert not pairs & bought
    assert pairs & (touched - bought)  # a viewed / carted item came back


def test_a_bare_user_item_file_with_other_column_names(tmp_path):
    (tmp_path / "events.csv").write_text(
        "userId,productId,rating\nann,tea,5\nann,cup,4\nben,tea,5\nben,pot,3\ncat,cup,2\n")
    (tmp_path / "users.txt").write_text("ann\ncat\n")
    res = _batch(tmp_path, "itemknn", tmp_path / "recs.csv")
    assert res.exit_code == 0, res.output
    assert "every row is taken as a purchase" in res.output and "file order" in res.output
    recs = pd.read_csv(tmp_path / "recs.csv", dtype=str)
    # ann shares tea with ben, who also bought the pot; cat's cup was bought with tea
    assert recs.groupby("user_id")["item_id"].first().to_dict() == {"ann": "pot", "cat": "tea"}
    again = _batch(tmp_path, "itemknn", tmp_path / "again.csv", "--include-seen")
    assert again.exit_code == 0, again.output
    recs = pd.read_csv(tmp_path / "again.csv", dtype=str)
    assert set(recs[recs.user_id == "ann"]["item_id"]) == {"tea", "cup", "pot"}  # repeats allowed


@pytest.mark.slow
def test_a_catalogue_of_85k_items_cuts_ease_and_keeps_the_full_softmax(data_dir, tmp_path):
    """The Taobao 2-hour slice has 84,793 items: EASE models its most-interacted ones, the
    sequence models keep the full softmax (computed in item chunks, within the time budget
    even though one epoch is longer), and both still serve every user."""
    ds = load_taobao(data_dir / "taobao-userbehavior" / "UserBehavior_timeslice.csv")
    view = Interactions.from_events(ds.events)
    assert view.n_items == 84_793
    ease = create("ease", max_items=3000).fit(view)
    counts = np.asarray(view.binary.sum(0)).ravel()
    assert len(ease.kept_) == 3000 and counts[ease.kept_].min() >= np.sort(counts)[-3000]
    sasrec = create("sasrec", **QUICK).fit(view)
    assert sasrec.loss_ == "ce" and len(sasrec.history_) >= 1
    users = np.arange(0, view.n_users, 97)
    for model in (ease, sasrec):
        items, _ = model.recommend(users, 10)
        assert (items >= 0).all()
        assert not view.binary[users[:, None], items].toarray().any()  # nothing seen
