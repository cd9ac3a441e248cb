"""The accuracy cost of publishing popularity counts with differential privacy.

The shop's public count (shoppers per item, as ``privacy.dp.PublicCounts`` releases it for the
popular list) is released ``--releases`` times through the same functions
(``bound_contributions``, then ``noisy_counts``: OpenDP's count-by-categories with Laplace noise)
at each epsilon per release, with the default contribution bound (``privacy.dp_max_items_per_shopper``)
unless ``--max-items`` is given, and compared with the exact counts the shop would otherwise
show (every shopper counted on every item they touched):

- MAE: mean absolute error over all items, against the exact counts (bounding and noise) and
  against the bounded exact counts (the noise alone);
- top-10 relative error: mean |released - exact| / exact over the exact top-10 items;
- top-10 overlap: the share of the exact top-10 that is in the released top-10;
- bound: OpenDP's stated error bound at alpha (``privacy.dp_alpha``) and the share of counts
  that fell outside it (should be at most alpha).

Datasets: Amazon Beauty (../shared/data; the whole log as the window) and the synthetic shop.

Run:  .venv/bin/python benchmarks/dp.py [--datasets beauty synthetic] [--epsilons 0.1 0.25 0.5 1]
      [--releases 20] [--max-items 5 ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def events(dataset: str):
    if dataset == "beauty":
        from shelfwise.data.loaders import load_amazon

        return load_amazon(DATA / "amazon-beauty", "Beauty").events
    from shelfwise.data.synthetic import generate_shop

    return generate_shop(n_users=4000, n_items=1500, seed=0).events


def run(dataset: str, epsilons: list[float], releases: int, bounds: list[int], alpha: float) -> list[dict]:
    import numpy as np

    from shelfwise.privacy.dp import bound_contributions, noisy_counts

    ev = events(dataset)
    ev = ev.assign(user_id=ev["user_id"].astype(str), item_id=ev["item_id"].astype(str))
    item_ids = sorted(ev["item_id"].unique())
    exact = ev.drop_duplicates(["user_id", "item_id"])["item_id"].value_counts().reindex(item_ids).to_numpy()
    top = np.argsort(-exact, kind="stable")[:10]
    print(f"\n== {dataset}: {ev['user_id'].nunique():,} shoppers, {len(item_ids):,} items; exact top-10 counts "
          f"{exact[top].min()}..{exact[top].max()}, median count {np.median(exact):.0f}; "
          f"{releases} releases per row ==")
    print(f"{'items':>6}{'kept':>7}{'epsilon':>8}{'scale':>7}{'MAE':>8}{'MAE noise':>10}{'top-10 rel err':>15}"
          f"{'top-10 overlap':>15}{'bound':>7}{'outside':>8}")
    rows = []
    for max_items, eps in [(k, e) for k in bounds for e in epsilons]:
        records = bound_contributions(ev, max_items)
        bounded = records.value_counts().reindex(item_ids, fill_value=0).to_numpy()
        kept = len(records) / exact.sum()  # the share of (shopper, item) pairs the bound keeps
        draws = np.stack([noisy_counts(records, item_ids, max_items, eps, alpha)[0] for _ in range(releases)])
        _, scale, bound = noisy_counts(records, item_ids, max_items, eps, alpha)
        overlap = np.mean([len(set(np.argsort(-d, kind="stable")[:10]) & set(top)) / 10 for d in draws])
        row = {"dataset": dataset, "max_items": max_items, "kept": kept, "epsilon": eps, "scale": scale,
               "mae": float(np.abs(draws - exact).mean()), "mae_noise": float(np.abs(draws - bounded).mean()),
               "top10_rel_err": float((np.abs(draws[:, top] - exact[top]) / exact[top]).mean()),
               "top10_overlap": float(overlap), "bound": bound,
               # clamping at 0 only moves a count towards its (non-negative) truth, so clamped
               # draws are inside whenever the raw draw was
               "outside": float((np.abs(draws - bounded) >= bound).mean())}
        rows.append(row)
        print(f"{max_items:>6}{kept:>7.1%}{eps:>8g}{scale:>7g}{row['mae']:>8.2f}{row['mae_noise']:>10.2f}{row['top10_rel_err']:>15.1%}"
              f"{row['top10_overlap']:>15.0%}{bound:>7.1f}{row['outside']:>8.2%}", flush=True)
    return rows


def main() -> None:
    from shelfwise.config import PrivacySettings

    default = PrivacySettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["beauty", "synthetic"], choices=["beauty", "synthetic"])
    parser.add_argument("--epsilons", nargs="+", type=float, default=[0.1, default.dp_epsilon_per_release, 0.5, 1.0])
    parser.add_argument("--releases", type=int, default=20)
    parser.add_argument("--max-items", nargs="+", type=int, default=[default.dp_max_items_per_shopper])
    args = parser.parse_args()
    if any(e <= 0 for e in args.epsilons):
        parser.error("--epsilons: each epsilon must be > 0")
    if args.releases < 1 or min(args.max_items) < 1:
        parser.error("--releases and --max-items must be >= 1")
    print(f"defaults: epsilon {default.dp_epsilon_per_release} per release, {default.dp_epsilon_per_day} per day, "
          f"at most {default.dp_max_items_per_shopper} items per shopper, alpha {default.dp_alpha}")
    for dataset in args.datasets:
        run(dataset, args.epsilons, args.releases, args.max_items, default.dp_alpha)


if __name__ == "__main__":
    main()
