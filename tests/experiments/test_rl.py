"""The synthetic shop as a Gymnasium environment, and agents trained in it, on a tiny shop:
the environment obeys the Gymnasium API, its rewards are the simulator's purchases, and an
agent trained a little beats a random policy where the best action is planted."""

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from shelfwise.experiments import rl_agents
from shelfwise.experiments.rl_env import ShopperEnv
from shelfwise.simulation import ShopEnvironment, ShopperParams


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def env(small_shop):
    return ShopperEnv(small_shop, horizon=6, pool=40)


def test_the_environment_obeys_the_gymnasium_api(env):
    check_env(env, skip_render_check=True)
    assert env.action_space.n == len(env.lambdas) + 1  # the MMR weights and the bandit slot


def test_rewards_are_the_simulators_purchases(env, small_shop):
    """Replay every list the environment showed, with its draws, on fresh simulated shoppers:
    the purchases they make are the rewards, step by step."""
    fresh = ShopEnvironment(small_shop).shoppers
    total = 0.0
    for episode in range(25):
        env.reset(seed=episode)
        user = env.user
        fresh.fatigue[user] = 0.0
        done = False
        while not done:
            action = int(env.action_space.sample())
            _, reward, done, _, info = env.step(action)
            bought = fresh.respond(np.array([user]), info["items"][None, :], info["uniforms"][None])
            fresh.fatigue[user] *= fresh.params.boredom_decay
            assert reward == bought.purchased.sum()
            np.testing.assert_array_equal(info["purchased"], bought.purchased[0])
            total += reward
        fresh.owned[user] = env.owned0[user]
    assert total > 0  # the check saw purchases, not only zeros


def test_expected_reward_has_the_mean_of_the_purchases(small_shop):
    """reward="expected" pays the list's expected purchases; summed over many steps it meets
    the purchases the shoppers actually made from the same lists within noise."""
    env = ShopperEnv(small_shop, horizon=6, pool=40, reward="expected")
    expected, bought = [], []
    for episode in range(60):
        env.reset(seed=episode)
        done = False
        while not done:
            _, reward, done, _, info = env.step(int(env.action_space.sample()))
            expected.append(reward)
            bought.append(info["purchased"].sum())
    expected, bought = np.array(expected), np.array(bought, float)
    se = np.sqrt(np.maximum(expected, 1e-12).sum()) / len(bought)  # Poisson-like noise of the count
    assert abs(bought.mean() - expected.mean()) < 4 * se, (bought.mean(), expected.mean())


def test_same_seed_same_episode(env):
    runs = []
    for _ in range(2):
        env.reset_bandit(0)
        env.reset(seed=7)
        runs.append([env.step(a % env.action_space.n)[1:3] for a in range(env.horizon)])
    assert runs[0] == runs[1]


@pytest.mark.parametrize("kind", rl_agents.AGENTS)
def test_an_agent_trained_a_little_beats_random_on_a_planted_env(small_shop, kind):
    """No satiation and a purchase at nearly every cart: the greedy top n (action 0) is the
    best list every day and relevance-blind diversity (MMR with lambda 0, action 1) is worse."""
    params = ShopperParams(boredom=0.0, cart_rate=1.0, buy_base=0.7, buy_slope=0.3)
    planted = ShopperEnv(small_shop, params=params, horizon=8, pool=100, lambdas=(1.0, 0.0), bandit=False,
                         users=np.arange(0, 400, 2))
    agent, _ = rl_agents.train(kind, planted, 2000, seed=0)
    shoppers = np.arange(1, 400, 2)  # not trained on
    rng = np.random.default_rng(0)
    random = rl_agents.rollout(planted, lambda obs: int(rng.integers(2)), shoppers, seed=5)
    trained = rl_agents.rollout(planted, rl_agents.greedy_action(agent), shoppers, seed=5)
    gain = trained["returns"] - random["returns"]  # paired: same shoppers, same draws
    assert gain.mean() > 3 * gain.std(ddof=1) / np.sqrt(len(gain)), (gain.mean(), trained["actions"])
    assert trained["actions"][0] > 0.8


def test_each_action_is_a_serving_configuration(env):
    """Serving an action through the one path means these ListRequest fields; MMR with
    lambda 1 and no exploration is the greedy list the environment shows for action 0."""
    from shelfwise.serving.types import ListRequest

    requests = [ListRequest(**env.serving_request(a)) for a in range(env.action_space.n)]
    assert [r.diversity for r in requests] == [*env.lambdas, 1.0]
    assert [r.explore for r in requests] == [False] * len(env.lambdas) + [True]
    env.reset(seed=3)
    np.testing.assert_array_equal(env.slate(0), env.pool[env.user][: env.n])


def test_bad_input_is_refused(env, small_shop):
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action must be in"):
        env.step(99)
    with pytest.raises(ValueError, match="reward must be"):
        ShopperEnv(small_shop, reward="clicks")
    with pytest.raises(ValueError, match="lambdas"):
        ShopperEnv(small_shop, lambdas=(1.5,))
    with pytest.raises(ValueError, match="kind must be one of"):
        rl_agents.make_agent("ppo", env)
