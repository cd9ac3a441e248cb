"""Uplift and campaigns in the synthetic shop, where coupons follow a known rule per planted
taste group (``simulation.coupons``): uplift targeting beats propensity targeting by the truth,
our X-learner equals causalml's, and a campaign's estimated lift covers the true one."""

import io

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shelfwise.api.app import create_app
from shelfwise.api.keys import KeyStore
from shelfwise.config import Settings
from shelfwise.data.synthetic import generate_shop
from shelfwise.engine import Engine
from shelfwise.marketing.uplift import (
    TwoModelUplift,
    XLearnerUplift,
    _fit,
    qini_coefficient,
    targeted_uplift,
)
from shelfwise.simulation.coupons import CouponRule, campaign_log, taste_groups

RULE = CouponRule()


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    data = generate_shop(n_users=2000, n_items=600, seed=5, taste_groups=4)
    eng = Engine(Settings(home=tmp_path_factory.mktemp("uplift")))
    eng.upsert_items(data.items)
    eng.upsert_users(data.users)
    eng.ingest(data.events)
    features = eng.portraits.features()
    yield eng, data, features, taste_groups(data.users)
    eng.close()


@pytest.fixture(scope="module")
def logs(shop):
    _, _, features, groups = shop
    # one randomised campaign to learn from, the next to judge on (other draws, same shoppers)
    return features.to_numpy(), campaign_log(features.index, groups, RULE, seed=1), \
        campaign_log(features.index, groups, RULE, seed=2)


def test_uplift_targeting_beats_propensity_targeting(logs):
    X, train, test = logs
    propensity = _fit(X, train["bought"].to_numpy(), "binary", 0).predict(X)  # who buys, coupon or not
    random = np.random.default_rng(0).random(len(X))
    truth = test["true_uplift"].to_numpy()
    by = {"propensity": propensity, "random": random}
    for learner in (TwoModelUplift, XLearnerUplift):
        by[learner.__name__] = learner(seed=0).fit(X, train["treated"], train["bought"]).predict(X)
    gain = {k: targeted_uplift(s, truth, 0.25) for k, s in by.items()}  # true extra buyers per coupon
    qini = {k: qini_coefficient(s, test["treated"], test["bought"]) for k, s in by.items()}
    for learner in ("TwoModelUplift", "XLearnerUplift"):
        assert gain[learner] > gain["propensity"] + 0.05 and gain[learner] > gain["random"] + 0.05
        assert qini[learner] > qini["propensity"] and qini[learner] > qini["random"]
    # propensity targeting picks the sure things, whose coupon adds 0.02 each
    assert gain["propensity"] < truth.mean()


def test_our_x_learner_is_causalmls(logs):
    pytest.importorskip("causalml", reason="causalml (the dev extra) is not installed")
    from causalml.inference.meta import BaseXClassifier
    from lightgbm import LGBMClassifier, LGBMRegressor

    from shelfwise.marketing.uplift import PARAMS, ROUNDS

    X, train, _ = logs
    kw = {"learning_rate": PARAMS["learning_rate"], "num_leaves": PARAMS["num_leaves"], "n_jobs": 1,
          "min_child_samples": PARAMS["min_child_samples"], "n_estimators": ROUNDS, "verbose": -1, "random_state": 0}
    share = np.full(len(X), train["treated"].mean())
    theirs = BaseXClassifier(outcome_learner=LGBMClassifier(**kw), effect_learner=LGBMRegressor(**kw))
    theirs.fit(X, treatment=train["treated"].astype(int).to_numpy(), y=train["bought"].astype(int).to_numpy(), p=share)
    ours = XLearnerUplift(seed=0).fit(X, train["treated"], train["bought"]).predict(X)
    np.testing.assert_allclose(ours, theirs.predict(X, p=share).ravel(), atol=1e-3)


def test_a_campaigns_estimated_lift_covers_the_true_lift(shop):
    eng, data, _features, groups = shop
    start = float(data.events["timestamp"].max()) + 86400
    key = KeyStore(eng.store.engine).create("t", ["read", "write"])[1]
    with TestClient(create_app(engine=eng), headers={"Authorization": f"Bearer {key}"}) as c:
        made = c.post("/campaigns", json={"name": "spring coupon", "audience": {"rule": [["events", ">=", 1]]},
                                          "budget": 1800, "control_share": 0.5, "days": 14, "start": start})
        assert made.status_code == 201, made.text
        cid = made.json()["campaign_id"]
        assert made.json()["treatment"] == made.json()["control"] == 900
        members = pd.read_csv(io.StringIO(c.get(f"/campaigns/{cid}/audience.csv", params={"arm": "all"}).text))
        # the shoppers answer the coupon by the known rule; buyers' purchases arrive over the API
        treated = (members["arm"] == "treatment").to_numpy()
        g = groups.reindex(members["user_id"].astype(str)).to_numpy()
        bought = RULE.respond(g, treated, np.random.default_rng(11))
        buyers = members.loc[bought, "user_id"].astype(str)
        late = members.loc[~bought, "user_id"].astype(str)[:50]  # after the window: not counted
        rows = [{"user_id": u, "item_id": "P000001", "event_type": "purchase", "timestamp": start + 3600 + k}
                for k, u in enumerate(buyers)]
        rows += [{"user_id": u, "item_id": "P000001", "event_type": "purchase", "timestamp": start + 20 * 86400}
                 for u in late]
        assert c.post("/events", json={"events": rows}).status_code == 200
        result = c.get(f"/campaigns/{cid}").json()
        assert c.get("/campaigns/0123abcd").status_code == 404
        both = c.post("/campaigns", json={"name": "x", "audience": {"segment": 0, "brand": "b"}, "budget": 10})
        assert both.status_code == 422 and "exactly one of" in both.json()["detail"]
        bad_rule = c.post("/campaigns", json={"name": "x", "audience": {"rule": [["nope", ">", 1]]}, "budget": 10})
        assert bad_rule.status_code == 422 and "audience.rule[0]: unknown feature" in bad_rule.json()["detail"]
    true_lift = RULE.true_uplift(g).mean()  # what the coupon adds, averaged over the campaign's shoppers
    assert result["arms"]["treatment"]["converters"] == int(bought[treated].sum())
    assert result["lift_ci"][0] <= true_lift <= result["lift_ci"][1]
    true_incremental = RULE.true_uplift(g[treated]).sum()
    lo, hi = result["incremental_conversions_ci"]
    assert lo <= true_incremental <= hi
    assert result["incremental_revenue"] == pytest.approx(result["revenue_lift_per_shopper"] * 900)


def test_the_campaign_command(shop, tmp_path):
    from typer.testing import CliRunner

    from shelfwise.cli import app as cli

    eng = shop[0]
    eng.train(["itemknn"])  # the default model ranks the category's affinity audience
    runner = CliRunner(env={"COLUMNS": "300"})
    where = ["--home", str(eng.settings.home)]
    out = tmp_path / "treated.csv"
    made = runner.invoke(cli, ["campaign", "new", "--category", "Beauty", "--budget", "100", "--csv", str(out),
                               *where])
    assert made.exit_code == 0, made.output
    cid = made.output.split()[1].rstrip(":")
    assert len(pd.read_csv(out)) == 80  # 20% held out
    shown = runner.invoke(cli, ["campaign", cid, *where])
    assert shown.exit_code == 0 and "treatment: 80 shoppers" in shown.output
    missing = runner.invoke(cli, ["campaign", "abc123", *where])
    assert missing.exit_code == 2 and "does not exist" in missing.output
