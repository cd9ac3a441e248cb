"""Feedback reaches the bandit: simulated shoppers with known click rates per category click
the exploration slot of lists served over HTTP, sending the list's recommendation_id; the
bandit learns only from those events, and the impression log supports off-policy estimates."""

from __future__ import annotations

import json
import time

import numpy as np

from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.store import open_store
from tests.api.conftest import start_server

#: the simulator's truth: the click rate of an exploration slot, by its top-level category
CLICK_RATE = {"Toys": 0.6, "Home": 0.08, "Beauty": 0.08, "Sports": 0.05, "Grocery": 0.05, "Electronics": 0.03}
ROUNDS = 360
LEARNING = 150  # the first rounds, used for the off-policy estimate


def test_the_served_bandit_learns_from_logged_feedback_and_ips_recovers_a_uniform_policy(tmp_path, small_shop):
    home = tmp_path / "home"
    (home / "shelfwise.toml").parent.mkdir(parents=True)
    (home / "shelfwise.toml").write_text("explore_seed = 5\n")  # the bandit's draws, reproducible
    engine = Engine(Settings(home=home))
    engine.store.upsert_items(small_shop.items)
    engine.ingest(small_shop.events)
    engine.train(["itemknn"])
    engine.close()
    server = start_server(home, engine.settings.resolved_store_url)
    category = dict(zip(small_shop.items["item_id"], small_shop.items["category"].map(lambda c: c[0]), strict=True))
    rng = np.random.default_rng(11)
    users = [str(u) for u in small_shop.user_ids[:200]]
    shown: list[str] = []
    try:
        with server.client("admin") as c:
            for k in range(ROUNDS):
                user = users[k % len(users)]
                body = c.get(f"/users/{user}/recommendations",
                             params={"n": 4, "explore": "true", "model": "itemknn"}).json()
                slot = [i for i in body["items"] if i["source"] == "explore"]
                assert len(slot) == 1 and 0 < slot[0]["propensity"] <= 1, body
                arm = category[slot[0]["item_id"]]
                shown.append(arm)
                if rng.random() < CLICK_RATE[arm]:
                    assert c.post("/events", json={
                        "user_id": user, "item_id": slot[0]["item_id"], "event_type": "click",
                        "timestamp": time.time(), "context": {"recommendation_id": body["recommendation_id"]}},
                    ).status_code == 200
        time.sleep(1.0)  # the impression log is written within flush_seconds
        store = open_store(server.store_url)
        log = store.impressions()
        events = store.snapshot()
        store.close()
    finally:
        server.proc.terminate()
        server.proc.wait(timeout=10)

    # the bandit concentrated its draws on the category with the highest true click rate
    late = shown[-120:]
    assert late.count("Toys") / len(late) > 0.5, {a: late.count(a) for a in CLICK_RATE}
    assert shown[:40].count("Toys") < late.count("Toys") / 3  # it had to learn that

    # the impression log holds every served list with the propensity its draw used
    explore = log[log["source"] == "explore"]
    assert len(explore) == ROUNDS and explore["propensity"].between(0, 1, inclusive="right").all()
    assert (log.groupby("recommendation_id").size() == 4).all()
    clicked = set()
    for _, e in events[events["event_type"] == "click"].iterrows():
        rid = json.loads(e["context"]).get("recommendation_id")
        clicked.add((rid, e["item_id"]))
    # inverse propensity scoring: the click rate a uniform policy over the categories would have,
    # from the rounds in which the bandit was still learning (LEARNING, fixed beforehand): later
    # it shows the other categories so seldom that a 360-round log says little about them
    k = len(CLICK_RATE)
    first = explore.sort_values("created_at", kind="stable").iloc[:LEARNING]
    reward = np.array([(r, i) in clicked for r, i in zip(first["recommendation_id"], first["item_id"], strict=True)],
                      dtype=float)
    terms = reward * (1.0 / k) / first["propensity"].to_numpy()
    estimate, half = terms.mean(), 3.29 * terms.std(ddof=1) / np.sqrt(len(terms))  # 99.9%
    truth = float(np.mean(list(CLICK_RATE.values())))
    assert abs(estimate - truth) <= half, (estimate, half, truth)
    # what the logging policy itself earned is far from the uniform policy's rate, and the
    # interval around the IPS estimate leaves it out: the propensities corrected that bias
    naive = reward.mean()
    print(f"Toys share of the last {len(late)} draws {late.count('Toys') / len(late):.2f}; IPS estimate of a "
          f"uniform policy {estimate:.3f} +/- {half:.3f} (truth {truth:.3f}); logged policy {naive:.3f}")
    assert naive > 2 * truth and naive > estimate + half, (naive, estimate, half)
