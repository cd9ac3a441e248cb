"""Long-term effects of what a shop shows: N simulated days of the synthetic shop under the
greedy, MMR and bandit-slot policies (``shelfwise.simulation``).

Each policy gets its own copy of the same generated shop and the same random draws (common
random numbers: the same visitors, the same response uniforms), ranks with a real model refitted
on the growing event log every ``--refit-every`` days, and is shown to shoppers who respond by
their true tastes with position bias and satiation. Prints a per-day table and per-policy
totals, and saves plots of purchases, category entropy and catalogue coverage over time, with
the per-day figures as CSV, to ``--out``.

Run:  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python benchmarks/simulate.py
      [--days 60] [--users 3000] [--items 1000] [--policies greedy mmr bandit] [--lam 0.5]
      [--model ease] [--refit-every 1] [--seed 0] [--out reports/simulate]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

# the heavy imports wait until the arguments are read, so a bad option fails at once
SHOWN = ["purchases", "list_entropy", "shopper_entropy", "coverage", "coverage_cum"]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def parse(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=positive_int, default=60)
    ap.add_argument("--users", type=positive_int, default=3000)
    ap.add_argument("--items", type=positive_int, default=1000)
    ap.add_argument("--list-length", type=positive_int, default=10, help="items per list")
    ap.add_argument("--policies", nargs="+", choices=["greedy", "mmr", "bandit"],
                    default=["greedy", "mmr", "bandit"])
    ap.add_argument("--lam", type=unit_float, default=0.5, help="MMR relevance weight")
    ap.add_argument("--slot", type=int, default=None,
                    help="0-based position of the bandit's slot (default: the last)")
    ap.add_argument("--model", default="ease", help="the ranking model (a shelfwise.models name)")
    ap.add_argument("--refit-every", type=positive_int, default=1, help="days between refits")
    ap.add_argument("--visit-rate", type=unit_float, default=0.3, help="mean daily visit probability")
    ap.add_argument("--boredom", type=float, default=0.5,
                    help="utility lost per unit of category satiation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("reports/simulate"))
    args = ap.parse_args(argv)
    if args.slot is not None and not 0 <= args.slot < args.list_length:
        ap.error(f"argument --slot: must be in [0, {args.list_length - 1}], got {args.slot}")
    if args.visit_rate == 0:
        ap.error("argument --visit-rate: must be > 0")
    if not args.boredom >= 0:  # also catches nan
        ap.error(f"argument --boredom: must be >= 0, got {args.boredom}")
    from shelfwise.models import MODELS

    if args.model not in MODELS:
        ap.error(f"argument --model: unknown model {args.model!r}; known: {', '.join(sorted(MODELS))}")
    return args


def make_policy(name: str, args: argparse.Namespace):
    from shelfwise.simulation import BanditPolicy, GreedyPolicy, MMRPolicy

    common = {"model": args.model}
    if name == "greedy":
        return GreedyPolicy(**common)
    if name == "mmr":
        return MMRPolicy(lam=args.lam, **common)
    slot = args.list_length - 1 if args.slot is None else args.slot
    return BanditPolicy(slot=slot, seed=args.seed, **common)


def plot(daily, out: Path) -> list[Path]:
    """Three PNGs from the per-day figures of every policy (``policy`` column)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    panels = {
        "purchases.png": [("purchases", "purchases per day")],
        "entropy.png": [("shopper_entropy", "per shopper, all days so far"),
                        ("list_entropy", "within the day's list")],
        "coverage.png": [("coverage", "shown on the day"), ("coverage_cum", "shown so far")],
    }
    ylabels = {"purchases.png": "purchases", "entropy.png": "category entropy (bits)",
               "coverage.png": "share of the catalogue"}
    paths = []
    for file, series in panels.items():
        fig, ax = plt.subplots(figsize=(7, 4))
        for (column, label), style in zip(series, ["-", "--"], strict=False):
            for i, (policy, rows) in enumerate(daily.groupby("policy", sort=False)):
                ax.plot(rows["day"] + 1, rows[column], style, color=f"C{i}",
                        label=f"{policy}: {label}" if len(series) > 1 else policy)
        ax.set_xlabel("simulated day")
        ax.set_ylabel(ylabels[file])
        ax.set_title(f"{ylabels[file].capitalize()} over time")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / file, dpi=110)
        plt.close(fig)
        paths.append(out / file)
    return paths


def main(argv=None) -> None:
    args = parse(argv)
    import pandas as pd

    from shelfwise.data.synthetic import generate_shop
    from shelfwise.simulation import ShopEnvironment, ShopperParams

    args.out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    shop = generate_shop(n_users=args.users, n_items=args.items, seed=args.seed)
    print(f"shop: {args.users} shoppers, {args.items} items, {len(shop.events)} history events "
          f"({time.perf_counter() - t:.1f} s); {args.days} days, lists of {args.list_length}, "
          f"model {args.model} refitted every {args.refit_every} day(s), seed {args.seed}")
    params = ShopperParams(boredom=args.boredom)
    daily, totals = [], []
    half = (args.days + 1) // 2
    for name in args.policies:
        policy = make_policy(name, args)
        t = time.perf_counter()
        env = ShopEnvironment(shop, params, n=args.list_length, visit_rate=args.visit_rate, seed=args.seed)
        traj = env.run(policy, args.days, refit_every=args.refit_every)
        seconds = time.perf_counter() - t
        d = traj.daily.assign(policy=traj.policy)
        daily.append(d)
        e = traj.exposures
        totals.append({
            "policy": traj.policy, "visits": int(d["visits"].sum()), "views": int(d["views"].sum()),
            "carts": int(d["carts"].sum()), "purchases": int(d["purchases"].sum()),
            # early against late days: the first and the second half of the run
            "buys 1st half": int(d["purchases"].iloc[:half].sum()),
            "buys 2nd half": int(d["purchases"].iloc[half:].sum()),
            "revenue": round(float(d["revenue"].sum()), 2),
            "buy/visit": round(float(d["purchases"].sum() / max(d["visits"].sum(), 1)), 4),
            "view rate": round(float(e["viewed"].mean()), 4),
            "list H": round(float(d["list_entropy"].mean()), 3),
            "shopper H end": round(float(d["shopper_entropy"].iloc[-1]), 3),
            "coverage/day": round(float(d["coverage"].mean()), 3),
            "coverage end": round(float(d["coverage_cum"].iloc[-1]), 3),
            "seconds": round(seconds, 1)})
        print(f"  {traj.policy}: {seconds:.1f} s", flush=True)
    daily = pd.concat(daily, ignore_index=True)
    wide = daily.pivot(index="day", columns="policy", values=SHOWN)
    wide.index = wide.index + 1
    pd.set_option("display.width", 250)
    print("\nPer day (H = category entropy in bits; coverage = share of the catalogue shown):")
    print(wide.round(3).to_string())
    print("\nTotals over all days:")
    print(pd.DataFrame(totals).set_index("policy").to_string())
    daily.to_csv(args.out / "daily.csv", index=False)
    for path in plot(daily, args.out):
        print(f"saved {path}")
    print(f"saved {args.out / 'daily.csv'}")


if __name__ == "__main__":
    main()
