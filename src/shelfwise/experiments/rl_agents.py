"""Learned re-ranking policies for ``rl_env.ShopperEnv``, from stable-baselines3, and the
evaluation that holds them against fixed policies on the same shoppers and draws.

- ``DoubleDQN``: stable-baselines3's DQN with the Double-DQN target (van Hasselt et al.,
  AAAI 2016): the online network picks the next action, the target network values it,
  y = r + gamma (1 - done) Q_target(s', argmax_a Q_online(s', a)), which curbs DQN's
  overestimation; everything else (replay, target sync, epsilon schedule, Huber loss) is
  stable-baselines3's.
- ``A2C`` on ``N_ENVS`` copies of the environment (``ShopperEnv.clone``) with ``n_steps`` =
  the episode length and ``gae_lambda`` = 1: every episode lasts exactly ``horizon`` steps,
  so each update is a batch of ``N_ENVS`` whole episodes and the advantage is the
  Monte-Carlo return minus the learned value, i.e. REINFORCE with a learned baseline
  (Williams, 1992; Sutton & Barto, 13.4), plus a small entropy bonus.

``rollout`` plays one episode per given shopper, resetting with ``seed + j`` (common random
numbers across policies) and a fresh bandit, and reports purchases per shopper, the lists'
category entropy (bits, ``simulation.metrics.category_entropy``), catalogue coverage and the
share of each action, with each shopper's return (``returns``, for paired comparisons).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch as th
import torch.nn.functional as F
from stable_baselines3 import A2C, DQN

from shelfwise.simulation.metrics import category_entropy

AGENTS = ("dqn", "reinforce")
N_ENVS = 8  # episodes per REINFORCE update


class DoubleDQN(DQN):
    """DQN whose TD target is the Double-DQN one (see the module docstring)."""

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        losses = []
        for _ in range(gradient_steps):
            data = self.replay_buffer.sample(batch_size, env=self._vec_normalize_env)
            discounts = data.discounts if data.discounts is not None else self.gamma
            with th.no_grad():
                best = self.q_net(data.next_observations).argmax(dim=1, keepdim=True)  # (B, 1) online pick
                next_q = th.gather(self.q_net_target(data.next_observations), 1, best)  # (B, 1) target value
                target = data.rewards + (1 - data.dones) * discounts * next_q
            current = th.gather(self.q_net(data.observations), 1, data.actions.long())
            loss = F.smooth_l1_loss(current, target)
            losses.append(loss.item())
            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", float(np.mean(losses)))


def make_agent(kind: str, env, seed: int = 0, gamma: float = 0.99):
    """An untrained agent of ``kind`` ("dqn" or "reinforce") on ``env``, CPU, small MLP."""
    net = {"net_arch": [64, 64]}
    if kind == "dqn":
        return DoubleDQN("MlpPolicy", env, learning_rate=1e-3, buffer_size=50_000, learning_starts=500,
                         batch_size=64, gamma=gamma, train_freq=4, target_update_interval=500,
                         exploration_fraction=0.3, exploration_final_eps=0.05, policy_kwargs=net,
                         seed=seed, device="cpu", verbose=0)
    if kind == "reinforce":
        from stable_baselines3.common.vec_env import DummyVecEnv

        vec = DummyVecEnv([env.clone for _ in range(N_ENVS)])
        return A2C("MlpPolicy", vec, learning_rate=1e-3, n_steps=env.horizon, gamma=gamma, gae_lambda=1.0,
                   ent_coef=0.01, policy_kwargs=net, seed=seed, device="cpu", verbose=0)
    raise ValueError(f"kind must be one of {AGENTS}. Got {kind!r} instead.")


def train(kind: str, env, steps: int, seed: int = 0, gamma: float = 0.99):
    """(trained agent, seconds) after ``steps`` environment steps."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1. Got {steps} instead.")
    agent = make_agent(kind, env, seed=seed, gamma=gamma)
    start = time.perf_counter()
    agent.learn(total_timesteps=steps)
    return agent, time.perf_counter() - start


def greedy_action(agent) -> Callable[[np.ndarray], int]:
    """The agent's deterministic choice for one observation."""
    return lambda obs: int(agent.predict(obs, deterministic=True)[0])


def rollout(env, act: Callable[[np.ndarray], int], users, seed: int = 0) -> dict:
    """One episode per shopper in ``users``; see the module docstring for the figures."""
    env.reset_bandit(seed)
    purchases, lists, cats, shown = [], [], [], set()
    actions = np.zeros(env.action_space.n)
    for j, user in enumerate(users):
        obs, _ = env.reset(seed=seed + j, options={"user": int(user)})
        total, done = 0.0, False
        while not done:
            a = act(obs)
            actions[a] += 1
            obs, reward, done, _, info = env.step(a)
            total += reward
            items = info["items"][info["items"] >= 0]
            lists.append(np.full(len(items), len(lists)))
            cats.append(env.categories[items])
            shown.update(items.tolist())
        purchases.append(total)
    entropy = category_entropy(np.concatenate(lists), np.concatenate(cats))
    return {"returns": np.asarray(purchases), "purchases": float(np.mean(purchases)),
            "purchases_se": float(np.std(purchases, ddof=1) / np.sqrt(len(purchases))),
            "diversity": float(entropy.mean()), "coverage": len(shown) / env.n_items,
            "actions": actions / actions.sum()}
