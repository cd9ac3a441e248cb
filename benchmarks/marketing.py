"""Portraits, segments and precision marketing, measured.

Prints:
1. segmentation (K-means over prepared portraits, k chosen over 2..10 by the seed's
   Davies-Bouldin index) of a synthetic shop with 4 planted taste groups, of UCI Online Retail
   (France and Germany) and of Taobao UserBehavior (the 2-hour slice): k, the seed's index,
   scikit-learn's index and the silhouette at that k (and the adjusted Rand index against the
   planted groups for the synthetic shop);
2. purchase propensity ("buys in Grocery within 30 days", synthetic shop) on the temporal
   hold-out: AUC, log loss and Brier score beside the base rate;
3. coupon targeting in the simulator (known per-group response): the Qini coefficient of
   X-learner and two-model uplift, propensity and random targeting, the true incremental
   buyers per coupon when the top 25% are targeted, and how often a campaign's 95% interval
   for its lift covers the true lift over 200 simulated campaigns;
4. affinity audiences on a temporal hold-out (synthetic shop and UCI Online Retail): the share
   of an item's audience that engages with the item in the next window, against the same
   number of the most active shoppers;
5. the time to answer GET /audiences for one item over 100,000 shoppers (EASE, in-process API).

Run: ``nice -n 10 .venv/bin/python benchmarks/marketing.py`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from shelfwise.config import Settings
from shelfwise.data.interactions import Interactions
from shelfwise.data.synthetic import generate_shop
from shelfwise.engine import Engine
from shelfwise.marketing.audiences import audience, view_activity
from shelfwise.marketing.campaigns import evaluate, split_arms
from shelfwise.marketing.uplift import TwoModelUplift, XLearnerUplift, _fit, qini_coefficient, targeted_uplift
from shelfwise.models import create
from shelfwise.profiles.aggregates import CatalogueIndex
from shelfwise.simulation.coupons import CouponRule, campaign_log, taste_groups

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DAY = 86400.0


def _engine(**settings) -> Engine:
    return Engine(Settings(home=tempfile.mkdtemp(prefix="shelfwise-mkt-"), **settings))


def _synthetic(n_users: int, seed: int, groups: int | None = 4, **kw) -> tuple[Engine, object]:
    shop = generate_shop(n_users=n_users, n_items=1000, seed=seed, taste_groups=groups, **kw)
    eng = _engine()
    eng.upsert_items(shop.items)
    eng.upsert_users(shop.users)
    eng.ingest(shop.events)
    return eng, shop


def _segment_line(name: str, eng: Engine, k_range=(2, 10), planted: pd.Series | None = None) -> None:
    t = time.perf_counter()
    seg = eng.segment(k_range=k_range)
    c = next(c for c in seg.candidates if c["k"] == seg.k)
    extra = ""
    if planted is not None:
        from sklearn.metrics import adjusted_rand_score

        features = eng.portraits.features()
        extra = f"  ARI vs planted {adjusted_rand_score(planted.reindex(features.index), seg.assign(features)):.3f}"
    print(f"  {name:<34} {seg.n_shoppers:>6} shoppers  k={seg.k:<2} seed DB {c['seed_db']:.3f}  "
          f"sklearn DB {c['sklearn_db']:.3f}  silhouette {c['silhouette']:.3f}  ({time.perf_counter() - t:.1f} s)"
          f"{extra}")
    print("    " + "; ".join(f"{s['id']}: {s['name']} ({s['size']})" for s in seg.segments))


def segmentation() -> None:
    print("1. Segmentation (K-means, k in 2..10 by the seed's Davies-Bouldin index)")
    eng, shop = _synthetic(3000, seed=11)
    _segment_line("synthetic shop, 4 planted groups", eng, planted=taste_groups(shop.users))
    if not DATA.exists():
        print(f"  ({DATA} not present: real logs skipped)")
        return
    retail = _engine()
    for country in ("france", "germany"):
        retail.import_file(DATA / "online-retail" / f"{country}.csv", fmt="online-retail")
    _segment_line("UCI Online Retail (France+Germany)", retail)
    taobao = _engine()
    taobao.import_file(DATA / "taobao-userbehavior" / "UserBehavior_timeslice.csv", fmt="taobao")
    _segment_line("Taobao UserBehavior (2-hour slice)", taobao)


def propensity() -> None:
    print("2. Purchase propensity: buys in Grocery within 30 days, synthetic shop (5,000 shoppers)")
    eng, _ = _synthetic(5000, seed=12, groups=None)
    t = time.perf_counter()
    r = eng.marketing.fit_propensity("Grocery", 30).report
    print(f"  temporal hold-out ({r['holdout_shoppers']} shoppers, rate {r['holdout_rate']:.4f}): "
          f"AUC {r['auc']:.4f}  log loss {r['log_loss']:.4f} (base rate {r['base_log_loss']:.4f})  "
          f"Brier {r['brier']:.4f} (base rate {r['base_brier']:.4f})  ({time.perf_counter() - t:.1f} s)")


def uplift() -> None:
    print("3. Coupon targeting in the simulator (5,000 shoppers, 4 groups with known coupon response)")
    eng, shop = _synthetic(5000, seed=13)
    features = eng.portraits.features()
    groups, rule = taste_groups(shop.users), CouponRule()
    train = campaign_log(features.index, groups, rule, seed=1)
    test = campaign_log(features.index, groups, rule, seed=2)
    X = features.to_numpy()
    orders = {
        "X-learner uplift": XLearnerUplift(seed=0).fit(X, train["treated"], train["bought"]).predict(X),
        "two-model uplift": TwoModelUplift(seed=0).fit(X, train["treated"], train["bought"]).predict(X),
        "propensity (who buys)": _fit(X, train["bought"].to_numpy(), "binary", 0).predict(X),
        "random": np.random.default_rng(0).random(len(X)),
        "oracle (true uplift)": test["true_uplift"].to_numpy(),
    }
    truth = test["true_uplift"].to_numpy()
    for name, s in orders.items():
        print(f"  {name:<24} Qini {qini_coefficient(s, test['treated'], test['bought']):+.5f}   "
              f"true extra buyers per coupon, top 25%: {targeted_uplift(s, truth, 0.25):.4f}")
    # campaigns: a random control of 30% in a budget of 2,000, 200 times over
    catalogue, covered, n = CatalogueIndex(), 0, 200
    users = features.index.to_numpy()
    for k in range(n):
        rng = np.random.default_rng(100 + k)
        chosen = rng.choice(users, 2000, replace=False).tolist()
        members = pd.DataFrame(split_arms(chosen, 2000, 0.3, seed=k), columns=["user_id", "arm", "rank"])
        g = groups.reindex(members["user_id"]).to_numpy()
        bought = rule.respond(g, (members["arm"] == "treatment").to_numpy(), rng)
        events = pd.DataFrame({"user_id": members.loc[bought, "user_id"], "item_id": "x", "event_type": "purchase",
                               "timestamp": 1.0})
        result = evaluate(members, events, catalogue, start=0.0)
        lo, hi = result["lift_ci"]
        covered += lo <= rule.true_uplift(g).mean() <= hi
    print(f"  campaign lift 95% CI covers the true lift in {covered}/{n} simulated campaigns")


def _audience_precision(view_events: pd.DataFrame, after: pd.DataFrame, items: pd.DataFrame | None,
                        size: int, top_items: int, model: str) -> tuple[float, float, float, int]:
    """(precision ranked by engagement, by affinity, of the most active shoppers, items) over
    the ``top_items`` items most bought in ``after`` and known before: the share of each
    audience of ``size`` (shoppers who had not bought the item) that touches it in ``after``."""
    view = Interactions.from_events(view_events, items=items)
    fitted = create(model).fit(view)
    activity = view_activity(view, 30.0)
    known = set(view.item_ids)
    buys = after[after["event_type"] == "purchase"]
    targets = [i for i in buys["item_id"].value_counts().index if i in known][:top_items]
    most_active = view_events["user_id"].value_counts()
    engaged_share: dict[str, list[float]] = {"engagement": [], "affinity": [], "active": []}
    for item in targets:
        engaged = list(set(after.loc[after["item_id"] == item, "user_id"]))
        had = set(view_events.loc[(view_events["item_id"] == item) & (view_events["event_type"] == "purchase"),
                                  "user_id"])
        for key, act in (("engagement", activity), ("affinity", None)):
            aud = audience(fitted, view, [item], size, activity=act)
            engaged_share[key].append(np.isin(aud["user_id"], engaged).mean())
        baseline = [u for u in most_active.index if u not in had][:size]
        engaged_share["active"].append(np.isin(baseline, engaged).mean())
    e, a, m = (float(np.mean(engaged_share[k])) for k in ("engagement", "affinity", "active"))
    return e, a, m, len(targets)


def audiences() -> None:
    print("4. Affinity audiences on a temporal hold-out (EASE; precision = share of the audience that "
          "touches the item next)")
    shop = generate_shop(n_users=3000, n_items=1000, seed=14)
    ev = shop.events
    cut = float(ev.loc[ev["event_type"] == "purchase", "timestamp"].max()) - 14 * DAY
    eng, aff, active, n = _audience_precision(ev[ev["timestamp"] < cut], ev[ev["timestamp"] >= cut], shop.items,
                                              100, 20, "ease")
    print(f"  synthetic shop, next 14 days, {n} best sellers, audiences of 100: by engagement {eng:.3f}, "
          f"by affinity {aff:.3f}; the most active shoppers {active:.3f}")
    if DATA.exists():
        from shelfwise.data.loaders import load_online_retail

        parts = [load_online_retail(DATA / "online-retail" / f"{c}.csv") for c in ("france", "germany")]
        ev = pd.concat([p.events for p in parts], ignore_index=True)
        ev["timestamp"] = ev["timestamp"].astype(float)
        cut = float(ev["timestamp"].max()) - 60 * DAY
        eng, aff, active, n = _audience_precision(ev[ev["timestamp"] < cut], ev[ev["timestamp"] >= cut], None,
                                                  20, 20, "ease")
        print(f"  UCI Online Retail, next 60 days, {n} best sellers, audiences of 20: by engagement {eng:.3f}, "
              f"by affinity {aff:.3f}; the most active shoppers {active:.3f}")


def audience_latency() -> None:
    from fastapi.testclient import TestClient

    from shelfwise.api.app import create_app
    from shelfwise.api.keys import KeyStore

    print("5. GET /audiences for one item over 100,000 shoppers (EASE, in-process API, SQLite store)")
    shop = generate_shop(n_users=100_000, n_items=2000, sessions_per_user=2.0, seed=15)
    eng = _engine(profiles={"enabled": False}, default_model="ease")  # audiences need no portraits
    eng.upsert_items(shop.items)
    t = time.perf_counter()
    eng.ingest(shop.events)
    eng.train(["ease"])
    view = eng.versions.load("ease")[1]
    print(f"  {len(shop.events):,} events, {view.n_users:,} shoppers: imported and EASE trained in "
          f"{time.perf_counter() - t:.0f} s")
    item = shop.events["item_id"].value_counts().index[0]
    key = KeyStore(eng.store.engine).create("bench", ["read"])[1]
    with TestClient(create_app(engine=eng), headers={"Authorization": f"Bearer {key}"}) as c:
        times = []
        for _ in range(6):
            t = time.perf_counter()
            res = c.get("/audiences", params={"item": item, "n": 1000})
            times.append(time.perf_counter() - t)
            assert res.status_code == 200 and res.json()["n"] == 1000, res.text
        t = time.perf_counter()
        csv = c.get("/audiences", params={"item": item, "n": 100_000, "format": "csv"})
        csv_s = time.perf_counter() - t
    print(f"  top 1,000: first call {times[0]:.3f} s (loads the model), then median "
          f"{statistics.median(times[1:]):.3f} s; the whole ranking as CSV ({len(csv.text) // 1024:,} KiB) "
          f"{csv_s:.2f} s")


def main() -> None:
    start = time.perf_counter()
    for part in (segmentation, propensity, uplift, audiences, audience_latency):
        part()
        sys.stdout.flush()
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
