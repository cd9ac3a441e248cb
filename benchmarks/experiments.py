"""Experiments, measured: how many shoppers interleaving needs against an A/B test to call the
same known difference at the same power, on the synthetic shop's simulated shoppers.

Two serving configurations are compared in each scenario (the control first): lists of 10
from a real shelfwise model fitted on the generated history (``simulation.policies``). Their
true quality is known: the simulator's expected clicks per list, sum over positions k of
P(examined at k) * P(view | examined) (``simulation.shoppers``; durables bought in the history
are owned and draw no click).

- **A/B test**: N shoppers split 50/50, one list each; clicks per shopper compared by a
  two-sided z-test at alpha 0.05.
- **Interleaving**: N shoppers, one team-draft interleaved list each
  (``experiments.interleaving``); wins against losses by the two-sided sign test at 0.05.

For each N of a grid, ``REPS`` simulated experiments draw N shoppers (with replacement) and
their clicks; power = the share that call the true better configuration significantly. The
figure is the smallest N of the grid with power >= 0.8 (log-interpolated between grid points).

Then, if ``benchmarks/experiments_policies.py`` is present, its ``ope_section()`` and
``rl_section()`` print off-policy evaluation and the reinforcement-learning policies.

Run: ``nice -n 10 .venv/bin/python benchmarks/experiments.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import binom, norm

from shelfwise.data.synthetic import generate_shop
from shelfwise.experiments.interleaving import A, team_draft
from shelfwise.simulation import GreedyPolicy, MMRPolicy, ShopEnvironment, ShopperParams

N_LIST, REPS, POWER, ALPHA = 10, 300, 0.8, 0.05
INTERLEAVINGS = 8  # team-draft merges drawn per shopper (each list takes one at random)
GRID = np.unique(np.round(np.geomspace(20, 200_000, 41)).astype(int))
CHUNK = 20_000_000  # uniforms drawn at once


def true_quality(shoppers, items: np.ndarray) -> np.ndarray:
    """(n_users, n) click probability of each shown position: examination x attraction."""
    users = np.arange(shoppers.n_users)
    return shoppers.attraction(users, items) * shoppers.examination(items.shape[1])[None, :]


def ab_power(pa: np.ndarray, pb: np.ndarray, n: int, rng) -> float:
    """Share of REPS A/B tests of n shoppers (n/2 per arm) that find B - A significant with
    the true sign; pa, pb (n_users, N_LIST) click probabilities."""
    half = max(n // 2, 2)
    sign = np.sign(pb.sum(1).mean() - pa.sum(1).mean())
    hits = 0
    per_chunk = max(1, CHUNK // (half * N_LIST))
    for start in range(0, REPS, per_chunk):
        r = min(per_chunk, REPS - start)
        arms = []
        for p in (pa, pb):
            who = rng.integers(0, len(p), size=(r, half))
            clicks = (rng.random((r, half, N_LIST), dtype=np.float32) < p[who]).sum(axis=2)
            arms.append(clicks)
        ma, mb = arms[0].mean(1), arms[1].mean(1)
        se = np.sqrt(arms[0].var(1, ddof=1) / half + arms[1].var(1, ddof=1) / half)
        z = np.where(se > 0, (mb - ma) / np.where(se > 0, se, 1), 0.0)
        hits += int(((np.abs(z) > norm.ppf(1 - ALPHA / 2)) & (np.sign(z) == sign)).sum())
    return hits / REPS


def interleave_power(p_il: np.ndarray, team_a: np.ndarray, sign: float, n: int, rng) -> float:
    """Share of REPS interleaving experiments of n shoppers whose sign test is significant with
    the true sign; p_il (n_users, M, N_LIST) click probabilities of the merged lists, team_a
    (n_users, M, N_LIST) whether team A placed the item."""
    hits = 0
    per_chunk = max(1, CHUNK // (n * N_LIST))
    for start in range(0, REPS, per_chunk):
        r = min(per_chunk, REPS - start)
        who = rng.integers(0, p_il.shape[0], size=(r, n))
        which = rng.integers(0, p_il.shape[1], size=(r, n))
        clicks = rng.random((r, n, N_LIST), dtype=np.float32) < p_il[who, which]
        ta = team_a[who, which]
        credit = (clicks & ta).sum(2).astype(np.int64) - (clicks & ~ta).sum(2)
        wins, losses = (credit > 0).sum(1), (credit < 0).sum(1)
        k = np.minimum(wins, losses)
        p = np.minimum(1.0, 2 * binom.cdf(k, wins + losses, 0.5))
        p = np.where(wins + losses > 0, p, 1.0)
        hits += int(((p < ALPHA) & (np.sign(wins - losses) == sign)).sum())
    return hits / REPS


def needed(power_at, rng) -> tuple[float | None, list[tuple[int, float]]]:
    """Smallest N of GRID with power >= POWER (log-interpolated), and the powers measured."""
    seen = []
    for n in GRID:
        pw = power_at(int(n), rng)
        seen.append((int(n), pw))
        if pw >= POWER:
            if len(seen) == 1:
                return float(n), seen
            (n0, p0), (n1, p1) = seen[-2], seen[-1]
            t = (POWER - p0) / (p1 - p0) if p1 > p0 else 1.0
            return float(np.exp(np.log(n0) + t * (np.log(n1) - np.log(n0)))), seen
    return None, seen


def scenario(name: str, shoppers, lists_a: np.ndarray, lists_b: np.ndarray, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    pa, pb = true_quality(shoppers, lists_a), true_quality(shoppers, lists_b)
    qa, qb = pa.sum(1).mean(), pb.sum(1).mean()
    users = shoppers.n_users
    merged = np.empty((users, INTERLEAVINGS, N_LIST), dtype=np.int64)
    team_a = np.zeros((users, INTERLEAVINGS, N_LIST), dtype=bool)
    for u in range(users):
        for m in range(INTERLEAVINGS):
            items, teams = team_draft(list(lists_a[u]), list(lists_b[u]), N_LIST, rng)
            merged[u, m, :len(items)] = items
            merged[u, m, len(items):] = -1
            team_a[u, m, :len(items)] = np.asarray(teams) == A
    exam = shoppers.examination(N_LIST)
    p_il = np.stack([shoppers.attraction(np.arange(users), merged[:, m]) * exam[None, :]
                     for m in range(INTERLEAVINGS)], axis=1)
    sign = np.sign(qb - qa)
    # interleaving's sign test says "A preferred" as wins > losses: B better means losses win
    started = time.perf_counter()
    n_ab, ab_seen = needed(lambda n, g: ab_power(pa, pb, n, g), rng)
    n_il, il_seen = needed(lambda n, g: interleave_power(p_il, team_a, -sign, n, g), rng)
    return {"name": name, "qa": qa, "qb": qb, "n_ab": n_ab, "n_il": n_il, "seconds": time.perf_counter() - started,
            "ab_seen": ab_seen, "il_seen": il_seen}


def fmt(n: float | None) -> str:
    return f">{GRID[-1]:,}" if n is None else f"{n:,.0f}"


REGIMES = {  # the simulator's click model as generated, and one where clicks are rarer
    "clicks as generated (attraction offset 1.5)": ShopperParams(),
    "rare clicks (attraction offset 7.0)": ShopperParams(attraction_offset=7.0),
}
PAIRS = (("ease", "mmr(0.5)"), ("ease", "popular"))


def sensitivity_section() -> None:
    print("== Interleaving against A/B: shoppers needed for 80% power at alpha 0.05 ==")
    started = time.perf_counter()
    shop = generate_shop(n_users=2000, n_items=1000, seed=11)
    view = ShopEnvironment(shop, seed=11).interactions()
    users = np.arange(view.n_users)
    rng = np.random.default_rng(0)
    configs = {"ease": GreedyPolicy(model="ease"), "mmr(0.5)": MMRPolicy(model="ease", lam=0.5),
               "popular": GreedyPolicy(model="popular")}
    lists = {}
    for label, policy in configs.items():
        policy.fit(view)
        lists[label] = policy.recommend(users, N_LIST, rng).items
    print(f"synthetic shop: {len(users)} shoppers, {view.n_items} items, {view.n_events} history events; "
          f"{REPS} simulated experiments per N; lists built in {time.perf_counter() - started:.0f} s")
    for regime, params in REGIMES.items():
        shoppers = ShopEnvironment(shop, params, seed=11).shoppers
        print(f"\n-- {regime}")
        print(f"{'control':>8} {'variant':>9} {'overlap':>8} {'clicks/list A':>14} {'clicks/list B':>14} "
              f"{'true lift':>10} {'A/B shoppers':>13} {'interleaving':>13} {'A/B / IL':>9}")
        for k, (a, b) in enumerate(PAIRS):
            overlap = np.mean([len(set(x) & set(y)) / N_LIST for x, y in zip(lists[a], lists[b], strict=True)])
            r = scenario(f"{a} vs {b}", shoppers, lists[a], lists[b], seed=100 + k)
            ratio = f"{r['n_ab'] / r['n_il']:.2f}" if r["n_ab"] and r["n_il"] else "-"
            print(f"{a:>8} {b:>9} {overlap:>8.0%} {r['qa']:>14.4f} {r['qb']:>14.4f} {(r['qb'] / r['qa'] - 1):>+10.1%} "
                  f"{fmt(r['n_ab']):>13} {fmt(r['n_il']):>13} {ratio:>9}   ({r['seconds']:.0f} s)")
            sys.stdout.flush()


def policies_sections() -> None:
    """ope_section() and rl_section() of benchmarks/experiments_policies.py, when present."""
    path = Path(__file__).with_name("experiments_policies.py")
    if not path.is_file():
        print("\n(benchmarks/experiments_policies.py is not here: no OPE or RL section)")
        return
    spec = importlib.util.spec_from_file_location("experiments_policies", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("ope_section", "rl_section"):
        section = getattr(module, name, None)
        if section is None:
            print(f"\n(benchmarks/experiments_policies.py has no {name}())")
            continue
        print()
        section()
        sys.stdout.flush()


if __name__ == "__main__":
    sensitivity_section()
    policies_sections()
