"""Off-policy evaluation on a logged exploration slot of the simulated shop, where the truth is
known: IPS is unbiased, the intervals cover, the estimators agree with Open Bandit Pipeline's,
and the truth is what the shoppers do when the new policy is actually run."""

import numpy as np
import pytest

from shelfwise.experiments import ope
from shelfwise.experiments.slot_log import Affinity, SlotPolicy, Uniform, resample
from shelfwise.simulation import ShopEnvironment


@pytest.fixture(scope="module")
def logged(small_shop):
    env = ShopEnvironment(small_shop, seed=0)
    policy = SlotPolicy(Affinity(temperature=0.2, epsilon=0.2), shoppers=env.shoppers)
    env.run(policy, 3)
    return policy, policy.log()


def test_ips_is_unbiased_over_many_logs_with_known_propensities(logged):
    policy, log = logged
    target = policy.target_dist(Uniform(), log)
    rng = np.random.default_rng(0)
    for reward in ("click", "purchase"):
        truth = float((target * log.truth[reward]).sum(1).mean())
        values = np.array([ope.ips(resample(log, rng), target, reward).value for _ in range(1500)])
        se = values.std(ddof=1) / np.sqrt(len(values))
        assert abs(values.mean() - truth) < 3.5 * se, (reward, values.mean(), truth, se)


def test_intervals_cover_the_truth_at_about_their_level(logged):
    policy, log = logged
    target = policy.target_dist(Uniform(), log)
    truth = float((target * log.truth["click"]).sum(1).mean())
    rng = np.random.default_rng(1)
    q = ope.fit_reward_model(log, "click")
    hits = {"ips": 0, "snips": 0, "dr": 0}
    m = 400
    for _ in range(m):
        r = resample(log, rng)
        for est in (ope.ips(r, target), ope.snips(r, target), ope.dr(r, target, q)):
            hits[est.estimator] += est.low <= truth <= est.high
    for name, h in hits.items():
        assert 0.88 <= h / m <= 0.99, (name, h / m)


def test_the_truth_is_what_shoppers_do_when_the_new_policy_runs(small_shop):
    """Run the target policy itself (same seed): its realised click and purchase rates on the
    slot lie within noise of the expected rates the log's truth computes for it."""
    env = ShopEnvironment(small_shop, seed=0)
    policy = SlotPolicy(Uniform(), shoppers=env.shoppers)
    env.run(policy, 3)
    log = policy.log()
    for reward in ("click", "purchase"):
        expected = log.truth[reward][np.arange(log.n), log.actions]
        realised = log.rewards[reward]
        se = np.sqrt((expected * (1 - expected)).sum()) / log.n
        assert abs(realised.mean() - expected.mean()) < 4 * se + 1e-9, reward
    # on-policy, every estimator is the plain mean
    own = log.logging_dist
    assert ope.ips(log, own).value == pytest.approx(log.rewards["click"].mean())
    assert ope.snips(log, own).value == pytest.approx(log.rewards["click"].mean())


def test_estimates_equal_open_bandit_pipeline_on_the_same_log(logged):
    from obp.ope import DoublyRobust, InverseProbabilityWeighting, SelfNormalizedInverseProbabilityWeighting

    policy, log = logged
    target = policy.target_dist(Uniform(), log)
    kwargs = {"reward": log.rewards["click"], "action": log.actions, "pscore": log.propensities,
              "action_dist": target[:, :, None], "position": np.zeros(log.n, int)}
    q = ope.fit_reward_model(log, "click")
    assert ope.ips(log, target).value == pytest.approx(InverseProbabilityWeighting().estimate_policy_value(**kwargs))
    assert ope.snips(log, target).value == pytest.approx(
        SelfNormalizedInverseProbabilityWeighting().estimate_policy_value(**kwargs))
    assert ope.dr(log, target, q).value == pytest.approx(
        DoublyRobust().estimate_policy_value(**kwargs, estimated_rewards_by_reg_model=q[:, :, None]))


def test_evaluate_reports_every_estimator_with_the_truth(logged):
    policy, log = logged
    frame = ope.evaluate(log, policy.target_dist(Uniform(), log))
    assert list(frame["estimator"]) == ["ips", "snips", "dr"] * 2
    assert (frame["low"] <= frame["value"]).all() and (frame["value"] <= frame["high"]).all()
    assert frame["truth"].notna().all() and (frame["unsupported"] == 0).all()
    click = frame[frame["reward"] == "click"]
    assert (abs(click["value"] - click["truth"]) < 4 * click["se"]).all()


def test_bad_input_is_refused_with_the_field_named(logged):
    _, log = logged
    with pytest.raises(ValueError, match="target must have shape"):
        ope.ips(log, np.ones((log.n, 3)) / 3)
    with pytest.raises(ValueError, match="propensities"):
        ope.BanditLog(users=log.users, actions=log.actions, propensities=np.zeros(log.n),
                      rewards=log.rewards, features=log.features, allowed=log.allowed)
