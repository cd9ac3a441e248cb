"""The simulated shop end to end on a generated shop, with the real models and ranking modules."""

import numpy as np
import pandas as pd
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.data.schemas import EVENT_COLUMNS
from shelfwise.ranking.exploration import CategoryThompson
from shelfwise.simulation import BanditPolicy, GreedyPolicy, MMRPolicy, ShopEnvironment


def run(shop, policy, days=3, seed=0, **kwargs):
    env = ShopEnvironment(shop, seed=seed, **kwargs)
    return env, env.run(policy, days)


def test_same_seed_same_trajectory_other_seed_other(small_shop):
    env_a, a = run(small_shop, BanditPolicy())
    env_b, b = run(small_shop, BanditPolicy())
    pd.testing.assert_frame_equal(a.exposures, b.exposures)
    pd.testing.assert_frame_equal(env_a.events, env_b.events)
    _, c = run(small_shop, BanditPolicy(), seed=1)
    assert not a.exposures[["user", "item"]].equals(c.exposures[["user", "item"]])


def test_policies_meet_the_same_visitors(small_shop):
    _, greedy = run(small_shop, GreedyPolicy())
    _, mmr = run(small_shop, MMRPolicy(lam=0.3))
    visitors = [e.groupby("day")["user"].unique().map(list).tolist() for e in (greedy.exposures, mmr.exposures)]
    assert visitors[0] == visitors[1]


def test_mmr_with_lambda_one_is_greedy_and_lower_lambda_widens_the_lists(small_shop):
    _, greedy = run(small_shop, GreedyPolicy())
    _, mmr1 = run(small_shop, MMRPolicy(lam=1.0))
    pd.testing.assert_frame_equal(greedy.exposures, mmr1.exposures)
    _, mmr0 = run(small_shop, MMRPolicy(lam=0.3))
    assert (mmr0.daily["list_entropy"] > greedy.daily["list_entropy"] + 0.5).all()


def test_responses_become_events_the_policy_learns_from(small_shop):
    env = ShopEnvironment(small_shop, seed=0)
    policy = GreedyPolicy().fit(env.interactions())
    before = len(env.events)
    day0 = env.step(policy)
    new = env.events.iloc[before:]
    assert list(new.columns) == list(EVENT_COLUMNS) and new["event_id"].is_unique
    assert new["event_type"].value_counts().to_dict() == {
        k: int(day0[c].sum()) for k, c in (("view", "viewed"), ("cart", "carted"), ("purchase", "purchased"))
        if day0[c].any()}
    assert (new["timestamp"] >= env.start).all() and (new["timestamp"] < env.start + 86400).all()
    bought = day0[day0["purchased"]]
    assert len(bought) > 0
    # the refitted policy sees the purchases: a bought durable is not shown to its buyer again
    policy.fit(env.interactions())
    assert env.interactions().n_events == Interactions.from_events(env.events).n_events
    durable = bought[~env.shoppers.consumable[bought["item"]]]
    lists, _ = policy.candidates(durable["user"].to_numpy())
    assert not (lists == durable["item"].to_numpy()[:, None]).any()


def test_no_policy_shows_an_out_of_stock_item(small_shop):
    out_of_stock = ~small_shop.items["in_stock"].to_numpy()
    assert out_of_stock.any()
    for policy in (GreedyPolicy(), MMRPolicy(lam=0.2), BanditPolicy()):
        _, t = run(small_shop, policy, days=2)
        assert len(t.exposures) and not out_of_stock[t.exposures["item"]].any()


def test_bandit_logs_the_probability_it_drew_the_slot_with(small_shop):
    env = ShopEnvironment(small_shop, seed=0)
    policy = BanditPolicy(slot=2).fit(env.interactions())
    n_cat = policy.bandit_.n_categories
    policy.bandit_.update(np.arange(n_cat), np.linspace(0, 1, n_cat))  # unequal posteriors
    # one shopper asked 3000 times: the slot's category is drawn 3000 times from one p
    slate = policy.recommend(np.full(3000, 7), 10, np.random.default_rng(0))
    assert (slate.explored.sum(1) == 1).all() and slate.explored[:, 2].all()
    cats = policy.categories_[slate.items[:, 2]]
    pool, _ = policy.candidates(np.array([7]))
    offered = np.zeros(n_cat, bool)
    rest = pool[0][~np.isin(pool[0], slate.items[0, [0, 1, 3, 4, 5, 6, 7, 8, 9]])]
    offered[policy.categories_[rest[rest >= 0]]] = True
    p = policy.bandit_.propensities(offered)
    np.testing.assert_array_equal(slate.propensities[:, 2], p[cats])
    np.testing.assert_allclose(np.bincount(cats, minlength=n_cat) / 3000, p, atol=0.03)
    assert (slate.propensities[~slate.explored] == 1.0).all()


def test_logged_propensities_in_a_run_match_each_days_posteriors(small_shop):
    env = ShopEnvironment(small_shop, seed=0)
    policy = BanditPolicy().fit(env.interactions())
    for _ in range(2):
        posterior = CategoryThompson(policy.bandit_.n_categories)
        posterior.alpha_, posterior.beta_ = policy.bandit_.alpha_.copy(), policy.bandit_.beta_.copy()
        day = env.step(policy)
        slot = day[day["explored"]]
        assert len(slot) == day["user"].nunique() and (slot["position"] == 9).all()
        pools, _ = policy.candidates(slot["user"].to_numpy())
        for (_, row), pool in zip(slot.iterrows(), pools, strict=True):
            shown = day.loc[(day["user"] == row["user"]) & ~day["explored"], "item"].to_numpy()
            rest = pool[(pool >= 0) & ~np.isin(pool, shown)]
            offered = np.zeros(posterior.n_categories, bool)
            offered[policy.categories_[rest]] = True
            assert row["propensity"] == posterior.propensities(offered)[row["category"]]
        policy.fit(env.interactions())
    # the bandit learned from the slot: one Beta update per exploration impression
    assert policy.bandit_.alpha_.sum() + policy.bandit_.beta_.sum() == 2 * policy.bandit_.n_categories + len(
        env.exposures.query("explored"))


@pytest.mark.parametrize(("kwargs", "field"), [({"visit_rate": 0.0}, "visit_rate"), ({"n": 0}, "n must")])
def test_bad_environment_settings_name_the_field(small_shop, kwargs, field):
    with pytest.raises(ValueError, match=field):
        ShopEnvironment(small_shop, **kwargs)


@pytest.mark.parametrize(("make", "field"), [
    (lambda: MMRPolicy(lam=1.5), "lam"), (lambda: BanditPolicy(slot=-1), "slot"),
    (lambda: BanditPolicy(category_depth=0), "category_depth"), (lambda: GreedyPolicy(pool=0), "pool")])
def test_bad_policy_settings_name_the_field(make, field):
    with pytest.raises(ValueError, match=field):
        make()


def test_the_policy_is_refitted_on_the_log_every_refit_every_days(small_shop):
    seen = []

    class Recording(GreedyPolicy):
        def fit(self, interactions):
            seen.append(interactions.n_events)
            return super().fit(interactions)

    env = ShopEnvironment(small_shop, seed=0)
    t = env.run(Recording(), days=5, refit_every=2)
    # fitted on the history, then after days 2 and 4 on everything logged so far
    per_day = t.exposures.groupby("day")[["viewed", "carted", "purchased"]].sum().sum(axis=1).cumsum()
    history = Interactions.from_events(small_shop.events).n_events
    assert seen == [history, history + per_day[1], history + per_day[3]]
