"""Segmentation: the seed's Davies-Bouldin index equals a hand computation, and k chosen by it
recovers the taste groups planted in a synthetic shop, read through a real Engine's portraits."""

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import adjusted_rand_score, davies_bouldin_score
from typer.testing import CliRunner

from shelfwise.api.app import create_app
from shelfwise.api.keys import KeyStore
from shelfwise.cli import app as cli
from shelfwise.config import Settings
from shelfwise.data.rules import RuleSet
from shelfwise.data.synthetic import generate_shop
from shelfwise.engine import Engine
from shelfwise.profiles.segments import mean_pairwise_distance, seed_davies_bouldin

runner = CliRunner(env={"COLUMNS": "300"})
# A: (0,0) (0,2), pairwise distance 2; B: (10,0) (13,0) (10,4), pairwise 3, 4, 5: mean 4; C: one point
X = np.array([[0, 0], [0, 2], [10, 0], [13, 0], [10, 4], [0, 20]], dtype=float)
LABELS = np.array([0, 0, 1, 1, 1, 2])


def test_seed_index_equals_a_hand_computation():
    assert mean_pairwise_distance(X[2:5]) == pytest.approx(4.0)
    two = seed_davies_bouldin(X[:5], LABELS[:5])
    mu_a, mu_b = (0, 1), (11, 4 / 3)
    d_ab = math.dist(mu_a, mu_b)
    assert two == pytest.approx((2 + 4) / d_ab)  # both clusters' worst ratio is the one pair
    # with C (spread 0, centre (0, 20)): A's and B's worst partner is each other, C's is B
    d_bc = math.dist(mu_b, (0, 20))
    assert seed_davies_bouldin(X, LABELS) == pytest.approx(((6 / d_ab) * 2 + 4 / d_bc) / 3)
    # not scikit-learn's index, which spreads clusters by the distance to their centroid
    assert abs(davies_bouldin_score(X[:5], LABELS[:5]) - two) > 0.1


def test_a_sampled_spread_is_close_to_the_exact_one():
    pts = np.random.default_rng(0).normal(size=(3000, 3))
    assert mean_pairwise_distance(pts, max_points=800) == pytest.approx(mean_pairwise_distance(pts, 4000), rel=0.03)


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    shop = generate_shop(n_users=1200, n_items=600, seed=5, taste_groups=4)
    eng = Engine(Settings(home=tmp_path_factory.mktemp("segments")))
    eng.upsert_items(shop.items)
    eng.upsert_users(shop.users)
    eng.ingest(shop.events)
    yield eng, shop
    eng.close()


def test_k_recovers_the_planted_taste_groups(grouped):
    eng, shop = grouped
    seg = eng.segment(k_range=(2, 8))
    assert seg.k == 4
    chosen = next(c for c in seg.candidates if c["k"] == 4)
    assert chosen["seed_db"] == min(c["seed_db"] for c in seg.candidates)
    features = eng.portraits.features()
    planted = shop.users.set_index("user_id").loc[features.index, "attributes"].map(lambda a: a["taste_group"])
    assert adjusted_rand_score(planted, seg.assign(features)) > 0.8
    # each group lives in one department: its segment is named by that department's affinity
    departments = {"Beauty", "Grocery", "Home", "Electronics"}
    assert {next(d for d in departments if f"high {d} affinity" in s["name"]) for s in seg.segments} == departments
    assert sum(s["size"] for s in seg.segments) == len(features)
    assert (eng.portraits.segments_dir / "segments.png").stat().st_size > 0


def test_segments_over_the_api_the_profile_and_the_cli(grouped):
    eng, shop = grouped
    if eng.segments() is None:
        eng.segment(k_range=(2, 8))
    key = KeyStore(eng.store.engine).create("t", ["read"])[1]
    user = str(shop.user_ids[0])  # group 0: Beauty
    with TestClient(create_app(engine=eng), headers={"Authorization": f"Bearer {key}"}) as c:
        body = c.get("/segments").json()
        assert body["k"] == 4 and len(body["segments"]) == 4 and body["candidates"][0]["k"] == 2
        assert set(body["segments"][0]["centroid"]) == set(body["features"])
        mine = c.get(f"/users/{user}/profile").json()["segment"]
    assert "high Beauty affinity" in mine["name"]
    shown = runner.invoke(cli, ["segments", "--home", str(eng.settings.home)])
    assert shown.exit_code == 0 and "<- chosen" in shown.output and "segment 3:" in shown.output
    bad = runner.invoke(cli, ["segments", "--fit", "--k-min", "5", "--k-max", "3", "--home", str(eng.settings.home)])
    assert bad.exit_code == 2 and "--k-min" in bad.output


def test_no_segments_yet_is_a_409_and_a_one_line_error(tmp_path):
    eng = Engine(Settings(home=tmp_path))
    key = KeyStore(eng.store.engine).create("t", ["read"])[1]
    with TestClient(create_app(engine=eng), headers={"Authorization": f"Bearer {key}"}) as c:
        res = c.get("/segments")
    assert res.status_code == 409 and "segments --fit" in res.json()["detail"]
    out = runner.invoke(cli, ["segments", "--home", str(tmp_path)])
    assert out.exit_code == 2 and "no segments yet" in out.output


def test_ndcg_per_segment_in_the_evaluation(grouped):
    eng, _ = grouped
    if eng.segments() is None:
        eng.segment(k_range=(2, 8))
    frame = eng.evaluate(["popular", "itemknn"], by_segment=True)
    by = frame.attrs["by_segment"]
    assert by["shoppers"].sum() == frame["test_users"].iloc[0]
    assert len([s for s in by.index if s != "(none)"]) == 4  # shoppers without consent: "(none)"
    # per-segment means, weighted by their shoppers, give back the overall NDCG@10
    for model in ("popular", "itemknn"):
        overall = (by[f"ndcg@10 {model}"] * by["shoppers"]).sum() / by["shoppers"].sum()
        assert overall == pytest.approx(frame.loc[model, "ndcg@10"])
    assert by.loc[[s for s in by.index if s != "(none)"], "ndcg@10 itemknn"].gt(0).all()
    shown = runner.invoke(cli, ["evaluate", "-m", "popular", "--by-segment", "--home", str(eng.settings.home)])
    assert shown.exit_code == 0 and "NDCG@10 per segment" in shown.output


def test_a_segments_business_rules_bind_its_shoppers_lists_only(grouped):
    """Rules under ``segments`` (here: hide one item) apply to the lists of that segment's
    shoppers, as the same rule sent with the request would, and leave other shoppers' alone."""
    eng, _ = grouped
    if eng.segments() is None:
        eng.segment(k_range=(2, 8))
    if "popular" not in eng.trained_models():
        eng.train(["popular"])
    features = eng.portraits.features()
    labels = eng.segments().assign(features)
    inside, outside = str(features.index[labels == 0][0]), str(features.index[labels != 0][0])
    mine, theirs = eng.recommend(inside, 10, "popular", log=False), eng.recommend(outside, 10, "popular", log=False)
    top = next(r.item_id for r in mine if r.item_id in {t.item_id for t in theirs})  # in both lists
    eng.settings.rules = RuleSet(segments={0: RuleSet(hidden_items=[top])})
    try:
        bound = [r.item_id for r in eng.recommend(inside, 10, "popular", log=False)]
        asked = [r.item_id for r in eng.recommend(inside, 10, "popular", log=False,
                                                    rules=RuleSet(hidden_items=[top]))]
        assert top not in bound and bound == asked
        assert top in [r.item_id for r in eng.recommend(outside, 10, "popular", log=False)]
        assert eng.explain(inside, top, "popular")[0].endswith("hidden by the shop, so it is not shown")
    finally:
        eng.settings.rules = RuleSet()
