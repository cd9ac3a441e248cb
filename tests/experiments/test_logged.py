"""The engine's impression log read back as logged bandit feedback, on a real SQLite store: the
exploration slots of a simulated log written as the serving path writes them (explore rows
with propensity and arm, clicks carrying the recommendation id) come back with the same
actions, propensities and rewards, and give the same estimates."""

import numpy as np
import pytest

from shelfwise.data.schemas import Event
from shelfwise.experiments import ope
from shelfwise.experiments.logged import read_exploration_log
from shelfwise.experiments.slot_log import Affinity, SlotPolicy
from shelfwise.simulation import ShopEnvironment
from shelfwise.store import open_store


def test_impression_log_and_feedback_read_back_as_the_logged_decisions(small_shop, tmp_path):
    env = ShopEnvironment(small_shop, seed=0)
    policy = SlotPolicy(Affinity(temperature=0.2, epsilon=0.2), shoppers=env.shoppers, category_depth=1,
                        slot=2)
    env.run(policy, 2)
    log = policy.log()
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    try:
        store.upsert_items(small_shop.items)
        store.append_events(small_shop.events)
        rows, events = [], []
        for j in range(log.n):
            rid, user, item = f"R{j:05d}", str(env.user_ids[log.users[j]]), str(env.item_ids[log.items[j]])
            at = env.start + j
            rows += [{"recommendation_id": rid, "position": 1, "item_id": "filler", "user_id": user,
                      "created_at": at, "model": "ease", "version": "v1", "policy": "ranked", "source": "ranked"},
                     {"recommendation_id": rid, "position": 3, "item_id": item, "user_id": user,
                      "created_at": at, "model": "ease", "version": "v1", "policy": "ranked", "source": "explore",
                      "propensity": float(log.propensities[j]), "arm": log.action_names[log.actions[j]]}]
            if log.rewards["click"][j]:
                events.append(Event(user_id=user, item_id=item, event_type="view", timestamp=at + 30,
                                    context={"recommendation_id": rid}))
            else:  # a view that does not name the list is not a click on it
                events.append(Event(user_id=user, item_id=item, event_type="view", timestamp=at + 30))
            if log.rewards["purchase"][j]:
                events.append(Event(user_id=user, item_id=item, event_type="purchase", timestamp=at + 600))
            else:  # bought, but three days later: outside the attribution window
                events.append(Event(user_id=user, item_id=item, event_type="purchase", timestamp=at + 3 * 86400))
        store.log_impressions(rows)
        store.append(events)
        read = read_exploration_log(store)
    finally:
        store.close()
    assert read.n == log.n
    assert [read.action_names[a] for a in read.actions] == [log.action_names[a] for a in log.actions]
    np.testing.assert_allclose(read.propensities, log.propensities)
    for reward in ("click", "purchase"):
        np.testing.assert_array_equal(read.rewards[reward], log.rewards[reward])
    # the same target on both: uniform over the arms, as the engine does not log what was offered
    uniform_read = np.full((read.n, read.n_actions), 1 / read.n_actions)
    uniform_log = np.full((log.n, log.n_actions), 1 / log.n_actions)
    assert read.n_actions == log.n_actions
    assert ope.ips(read, uniform_read, "purchase").value == pytest.approx(ope.ips(log, uniform_log, "purchase").value)
    assert np.isfinite(ope.dr(read, uniform_read, ope.fit_reward_model(read), "click").value)
