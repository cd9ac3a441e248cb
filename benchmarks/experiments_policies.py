"""Off-policy evaluation and reinforcement learning in the simulated shop: the two sections of
``benchmarks/experiments.py`` that judge policies before (OPE) and beyond (RL) an A/B test.

``ope_section``: the shop's category bandit fills the first slot of every list for ``days``
simulated days (``experiments.slot_log.SlotPolicy``), logging its propensities; IPS, SNIPS
and DR (``experiments.ope``) estimate from that log the click and purchase rates of other
slot policies, beside Open Bandit Pipeline's estimators on the same inputs, against (a) the
exact expected rate on the logged contexts (the simulator's probabilities) and (b) the rate
measured by running the policy itself in the simulator with the same seed. Then IPS's bias:
its mean error over ``resamples`` logs redrawn on the same contexts (with its standard error;
with propensities near 0 the weights are heavy-tailed and a few hundred logs understate both),
and exactly: E[IPS] - truth = minus the target's expected reward on actions the logger
could not take (propensity 0: the bandit's Monte-Carlo estimate gave them no draw).

``rl_section``: ``experiments.rl_env.ShopperEnv`` (one shopper's next ``horizon`` daily
visits; action = how the candidates are re-ranked: greedy, MMR at three weights, or greedy
plus the bandit's slot; reward = purchases). Double DQN and REINFORCE with a baseline
(``experiments.rl_agents``) train on half the shoppers for ``steps`` steps per seed and are
evaluated on other shoppers against the fixed policies and a random one, with common random
numbers: purchases per shopper over the horizon, list category entropy (bits), catalogue
coverage, training time. The verdict line is computed from the figures printed.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/experiments_policies.py
      [--section ope rl] [--seeds 3] [--steps 15000] [--train-reward purchases|expected] [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

OPE_SHOP = {"n_users": 2000, "n_items": 600, "seed": 0}
RL_SHOP = {"n_users": 1000, "n_items": 500, "seed": 0}


def _targets(k: int):
    from shelfwise.experiments.slot_log import Affinity, Uniform

    return [Uniform(), Affinity(temperature=0.2, epsilon=0.3), Affinity(temperature=0.1, epsilon=0.1)]


def ope_section(days: int = 4, seed: int = 0, resamples: int = 200, shop_size: dict | None = None) -> pd.DataFrame:
    """Print and return the OPE table (one row per target policy, reward and estimator)."""
    from obp.ope import DoublyRobust, InverseProbabilityWeighting, SelfNormalizedInverseProbabilityWeighting

    from shelfwise.data.synthetic import generate_shop
    from shelfwise.experiments import ope
    from shelfwise.experiments.slot_log import SlotPolicy, Thompson, resample
    from shelfwise.ranking.exploration import CategoryThompson
    from shelfwise.simulation import ShopEnvironment

    t0 = time.perf_counter()
    shop = generate_shop(**(shop_size or OPE_SHOP))
    env = ShopEnvironment(shop, seed=seed)
    k = len(set(env.shoppers.categories[env.shoppers.categories >= 0]))
    logger = SlotPolicy(Thompson(CategoryThompson(k, seed=seed)), shoppers=env.shoppers)
    env.run(logger, days)
    log = logger.log()
    print(f"\n== Off-policy evaluation: {days} days of the category bandit in slot 1, "
          f"{log.n} logged slots, {k} categories (seed {seed}) ==")
    print(f"logged click rate {log.rewards['click'].mean():.4f}, purchase rate {log.rewards['purchase'].mean():.4f}; "
          f"propensities {log.propensities.min():.4f} to {log.propensities.max():.4f}")
    obp_est = {"ips": InverseProbabilityWeighting(), "snips": SelfNormalizedInverseProbabilityWeighting(),
               "dr": DoublyRobust()}
    rows = []
    rng = np.random.default_rng(seed)
    for target in _targets(k):
        dist = logger.target_dist(target, log)
        frame = ope.evaluate(log, dist)
        run_env = ShopEnvironment(shop, seed=seed)  # the target itself, same visitors and draws
        own = SlotPolicy(target, shoppers=run_env.shoppers)
        run_env.run(own, days)
        ran = own.log()
        for reward in ("click", "purchase"):
            q = ope.fit_reward_model(log, reward)
            kwargs = {"reward": log.rewards[reward], "action": log.actions, "pscore": log.propensities,
                      "action_dist": dist[:, :, None], "position": np.zeros(log.n, int)}
            measured = ran.rewards[reward]
            bias = np.array([ope.ips(resample(log, rng), dist, reward).value
                             - float((dist * log.truth[reward]).sum(1).mean()) for _ in range(resamples)])
            for _, est in frame[frame["reward"] == reward].iterrows():
                extra = {"estimated_rewards_by_reg_model": q[:, :, None]} if est["estimator"] == "dr" else {}
                rows.append({
                    "target": target.name, "reward": reward, "estimator": est["estimator"],
                    "estimate": est["value"], "ci95": f"[{est['low']:.4f}, {est['high']:.4f}]",
                    "obp": obp_est[est["estimator"]].estimate_policy_value(**kwargs, **extra),
                    "truth (expected)": est["truth"],
                    "truth (run)": measured.mean(), "run se": measured.std(ddof=1) / np.sqrt(len(measured)),
                    "covers": bool(est["low"] <= est["truth"] <= est["high"]),
                    "ips bias over resamples": f"{bias.mean():+.5f} ± {bias.std(ddof=1) / np.sqrt(resamples):.5f}"
                    if est["estimator"] == "ips" else "",
                    # E[IPS] - truth exactly: minus the target's reward on actions the logger never takes
                    "ips exact bias": -float((dist * log.truth[reward] * (log.logging_dist <= 0)).sum(1).mean())
                    if est["estimator"] == "ips" else np.nan, "unsupported": est["unsupported"]})
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))
    rel = ((table["estimate"] - table["truth (expected)"]).abs() / table["truth (expected)"]).groupby(
        [table["reward"], table["estimator"]], sort=False).mean()
    agree = float((table["estimate"] - table["obp"]).abs().max())
    print(f"OPE verdict: {int(table['covers'].sum())}/{len(table)} intervals cover the exact truth; mean relative "
          "error " + ", ".join(f"{r} {e} {v:.1%}" for (r, e), v in rel.items())
          + f"; closest on average: clicks {rel['click'].idxmin()}, purchases {rel['purchase'].idxmin()}; "
          f"largest difference from obp {agree:.2e} ({time.perf_counter() - t0:.0f} s)")
    return table


def rl_section(seeds: int = 3, steps: int = 15000, horizon: int = 20, eval_users: int = 150,
               shop_size: dict | None = None, train_reward: str = "purchases") -> pd.DataFrame:
    """Print and return the RL table (one row per policy, averaged over seeds)."""
    import torch

    from shelfwise.data.synthetic import generate_shop
    from shelfwise.experiments import rl_agents
    from shelfwise.experiments.rl_env import ShopperEnv

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    size = shop_size or RL_SHOP
    shop = generate_shop(**size)
    users = np.arange(size["n_users"])
    env = ShopperEnv(shop, horizon=horizon, users=users[users % 2 == 0])
    trainer = env.clone()  # agents may train on the expected purchases; every policy is judged on drawn ones
    trainer.reward_mode = train_reward
    held_out = users[users % 2 == 1][:eval_users]
    names = [("greedy" if lam >= 1 else f"mmr({lam:g})") for lam in env.lambdas] + ["bandit"]
    print(f"\n== RL in the simulator: {size['n_users']} shoppers, {size['n_items']} items, episodes of "
          f"{horizon} daily visits, {len(held_out)} held-out shoppers, {seeds} seeds, {steps} training steps "
          f"on {train_reward} ==")
    print(f"actions: {', '.join(f'{i}={n}' for i, n in enumerate(names))}")
    rows, returns = [], {}
    for seed in range(seeds):
        at = 1000 * (seed + 1)  # evaluation draws, shared by every policy of this seed
        rng = np.random.default_rng(seed)
        policies = [(n, (lambda a: lambda obs: a)(i), 0.0) for i, n in enumerate(names)]
        policies.append(("random", lambda obs, rng=rng: int(rng.integers(env.action_space.n)), 0.0))
        for kind in rl_agents.AGENTS:
            agent, seconds = rl_agents.train(kind, trainer, steps, seed=seed)
            policies.append((kind, rl_agents.greedy_action(agent), seconds))
        for name, act, seconds in policies:
            m = rl_agents.rollout(env, act, held_out, seed=at)
            returns.setdefault(name, []).append(m["returns"])
            rows.append({"policy": name, "seed": seed, "purchases/shopper": m["purchases"],
                         "list entropy": m["diversity"], "coverage": m["coverage"], "train s": seconds,
                         "actions": " ".join(f"{x:.2f}" for x in m["actions"])})
        print(f"  seed {seed} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    frame = pd.DataFrame(rows)
    table = frame.groupby("policy", sort=False).agg(
        purchases=("purchases/shopper", "mean"), purchases_sd=("purchases/shopper", "std"),
        entropy=("list entropy", "mean"), coverage=("coverage", "mean"), train_s=("train s", "mean"),
        actions=("actions", "last"))
    with pd.option_context("display.width", 250, "display.float_format", "{:.3f}".format):
        print(table.to_string())
    best = max(names, key=lambda n: table.loc[n, "purchases"])
    lines = []
    for kind in rl_agents.AGENTS:
        for other in dict.fromkeys(["greedy", "bandit", "random", best]):
            d = np.concatenate(returns[kind]) - np.concatenate(returns[other])  # paired by shopper and draws
            se = d.std(ddof=1) / np.sqrt(len(d))
            word = "beats" if d.mean() > 2 * se else ("loses to" if d.mean() < -2 * se else "ties with")
            lines.append(f"{kind} {word} {other} ({d.mean():+.3f} ± {se:.3f} purchases per shopper)")
    print(f"RL verdict: best fixed policy {best}; " + "; ".join(lines)
          + f"; training {table.loc[list(rl_agents.AGENTS), 'train_s'].round(0).tolist()} s per agent "
          f"and seed ({time.perf_counter() - t0:.0f} s in all)")
    return table


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--section", nargs="+", choices=["ope", "rl"], default=["ope", "rl"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=15000, help="training steps per agent and seed")
    ap.add_argument("--train-reward", choices=["purchases", "expected"], default="purchases",
                    help="what the agents learn from (evaluation always counts drawn purchases)")
    ap.add_argument("--quick", action="store_true", help="a tiny shop and short training (a smoke run)")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.steps < 1:
        ap.error("--seeds and --steps must be >= 1")
    if "ope" in args.section:
        ope_section(**({"days": 2, "resamples": 20, "shop_size": {"n_users": 400, "n_items": 300, "seed": 3}}
                       if args.quick else {}))
    if "rl" in args.section:
        rl_section(**({"seeds": 1, "steps": 500, "horizon": 5, "eval_users": 20,
                       "shop_size": {"n_users": 400, "n_items": 300, "seed": 3}} if args.quick else
                      {"seeds": args.seeds, "steps": args.steps}), train_reward=args.train_reward)


if __name__ == "__main__":
    main()
