"""Audiences by affinity on a synthetic shop with planted taste groups (one department each):
the shoppers ranked for a Beauty item or brand are the Beauty group's, through a real Engine,
its trained EASE, the API (JSON and CSV) and the CLI."""

import io

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shelfwise.api.app import create_app
from shelfwise.api.keys import KeyStore
from shelfwise.cli import app as cli
from shelfwise.config import Settings
from shelfwise.data.synthetic import generate_shop
from shelfwise.engine import Engine

runner = CliRunner(env={"COLUMNS": "300"})


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    shop = generate_shop(n_users=1200, n_items=600, seed=5, taste_groups=4)
    eng = Engine(Settings(home=tmp_path_factory.mktemp("audiences"), default_model="ease"))
    eng.upsert_items(shop.items)
    eng.upsert_users(shop.users)
    eng.ingest(shop.events)
    eng.train(["ease"])
    group = {u: a["taste_group"] for u, a in zip(shop.users["user_id"], shop.users["attributes"], strict=True)}
    yield eng, shop, group
    eng.close()


def beauty_item(shop) -> str:
    beauty = shop.items[shop.items["category"].map(lambda c: c[0] == "Beauty")]["item_id"]
    bought = shop.events[(shop.events["event_type"] == "purchase") & shop.events["item_id"].isin(beauty)]
    return bought["item_id"].value_counts().index[0]


def test_the_audience_of_a_beauty_item_is_the_beauty_group(shop):
    eng, data, group = shop
    item = beauty_item(data)
    aud = eng.marketing.audience(items=[item], n=50, rank_by="affinity")  # taste alone
    assert list(aud["rank"]) == list(range(1, 51)) and aud["score"].is_monotonic_decreasing
    # group 0 lives in Beauty: 25% of the shop, but most of a Beauty item's audience (36 of 50
    # when written; a best seller draws other groups' shoppers too)
    assert sum(group[u] == 0 for u in aud["user_id"]) >= 30
    buyers = set(data.events[(data.events["item_id"] == item) & (data.events["event_type"] == "purchase")]["user_id"])
    withheld = set(data.users.loc[~data.users["consent"], "user_id"])
    assert not (set(aud["user_id"]) & buyers) and not (set(aud["user_id"]) & withheld)
    everyone = eng.marketing.audience(items=[item], n=5000, exclude_purchased=False)
    assert buyers - withheld <= set(everyone["user_id"])
    brand = data.items.loc[data.items["item_id"] == item, "brand"].iloc[0]
    by_brand = eng.marketing.audience(brand=brand, n=50, rank_by="affinity")
    assert sum(group[u] == 0 for u in by_brand["user_id"]) >= 45
    by_dept = eng.marketing.audience(category="Electronics", n=50, rank_by="affinity")
    assert sum(group[u] == 3 for u in by_dept["user_id"]) >= 40  # departments in TAXONOMY order


def test_api_json_csv_and_errors_and_the_cli(shop, tmp_path):
    eng, data, _ = shop
    item = beauty_item(data)
    key = KeyStore(eng.store.engine).create("t", ["read"])[1]
    with TestClient(create_app(engine=eng), headers={"Authorization": f"Bearer {key}"}) as c:
        body = c.get("/audiences", params={"item": item, "n": 20}).json()
        assert body["n"] == 20 and body["shoppers"][0]["rank"] == 1 and body["target"] == {"items": [item]}
        csv = c.get("/audiences", params={"item": item, "n": 20, "format": "csv"})
        assert csv.headers["content-type"].startswith("text/csv")
        frame = pd.read_csv(io.StringIO(csv.text))
        assert list(frame.columns) == ["user_id", "score", "rank"]
        assert list(frame["user_id"]) == [s["user_id"] for s in body["shoppers"]]
        two = c.get("/audiences", params={"item": item, "brand": "x"})
        assert two.status_code == 422 and "exactly one target" in two.json()["detail"]
        assert c.get("/audiences").status_code == 422
        unknown = c.get("/audiences", params={"item": "nope"})
        assert unknown.status_code == 404 and unknown.json()["detail"].startswith("item:")
        assert c.get("/audiences", params={"category": "Nowhere"}).status_code == 404
        assert c.get("/audiences", params={"item": item, "n": 0}).status_code == 422
    out = tmp_path / "aud.csv"
    res = runner.invoke(cli, ["audience", "--item", item, "-n", "20", "--out", str(out),
                              "--home", str(eng.settings.home), "--config", str(tmp_path / "none.toml")])
    assert res.exit_code == 2  # the named config file does not exist: one line
    res = runner.invoke(cli, ["audience", "--item", item, "-n", "20", "--out", str(out), "-m", "ease",
                              "--home", str(eng.settings.home)])
    assert res.exit_code == 0, res.output
    assert list(pd.read_csv(out)["user_id"]) == list(frame["user_id"])
    bad = runner.invoke(cli, ["audience", "--home", str(eng.settings.home)])
    assert bad.exit_code == 2 and "exactly one target" in bad.output


def test_view_activity_by_hand():
    from shelfwise.data.interactions import Interactions
    from shelfwise.marketing.audiences import view_activity

    day = 86400.0
    ev = pd.DataFrame({"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"], "event_type": "view",
                       "timestamp": [100 * day, 70 * day, 40 * day]})
    view = Interactions.from_events(ev)
    act = dict(zip(view.user_ids, view_activity(view, 30.0), strict=True))
    assert act["a"] == pytest.approx(1 + 0.5) and act["b"] == pytest.approx(0.25)  # halved per 30 days


def test_ranking_by_engagement_weighs_recent_activity(shop):
    eng, data, _ = shop
    item = beauty_item(data)
    by_affinity = eng.marketing.audience(items=[item], n=200, rank_by="affinity")
    by_engagement = eng.marketing.audience(items=[item], n=200)
    counts = data.events["user_id"].value_counts()
    # the same pool of candidates, reordered towards shoppers who are active
    assert counts.reindex(by_engagement["user_id"][:50]).mean() > counts.reindex(by_affinity["user_id"][:50]).mean()
    with pytest.raises(ValueError, match="rank_by"):
        eng.marketing.audience(items=[item], rank_by="luck")
