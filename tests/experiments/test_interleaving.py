"""Team-draft interleaving: the merge keeps each ranker's order and balances the teams, and
on the synthetic shop's simulated shoppers it prefers the ranker whose true quality (the
expected clicks the simulator's click model gives its lists) is higher."""

from __future__ import annotations

import numpy as np
import pytest

from shelfwise.experiments.interleaving import A, B, outcome, preference, team_draft
from shelfwise.simulation import Shoppers


def test_team_draft_keeps_each_rankers_order_and_balances_the_teams():
    rng = np.random.default_rng(0)
    first_a = 0
    for _ in range(500):
        a = list(rng.permutation(30)[:12])
        b = list(rng.permutation(30)[:12])
        merged, teams = team_draft(a, b, 10, rng)
        assert len(merged) == 10 and len(set(merged)) == 10
        teams = np.array(teams)
        assert abs((teams == A).sum() - (teams == B).sum()) <= 1
        for team, source in ((A, a), (B, b)):
            picked = [m for m, t in zip(merged, teams, strict=True) if t == team]
            assert picked == sorted(picked, key=source.index)  # in the ranker's own order
        first_a += teams[0] == A
    assert 200 < first_a < 300  # the coin is fair
    merged, teams = team_draft([1, 2], [1, 2, 3, 4], 4, rng)  # one list runs out: the other fills
    assert len(merged) == 4 and set(merged) == {1, 2, 3, 4}


def test_outcome_and_preference():
    assert outcome([A, B, A], [True, False, False]) == 1
    assert outcome([A, B, A], [False, True, False]) == -1
    assert outcome([A, B], [True, True]) == 0 and outcome([A, B], [False, False]) == 0
    p = preference(60, 20, 20)
    assert p["delta"] == pytest.approx((60 + 10) / 100 - 0.5) and p["p_value"] < 0.001
    assert preference(10, 10, 5)["p_value"] == pytest.approx(1.0)


def test_interleaving_picks_the_ranker_the_simulator_knows_is_better(small_shop):
    rng = np.random.default_rng(7)
    shoppers = Shoppers(small_shop.truth, small_shop.items)
    n, users = 10, np.arange(shoppers.n_users)
    utility = shoppers.utility
    good = np.argsort(-(utility + rng.normal(0, 0.5, utility.shape)), axis=1)[:, :30]
    worse = np.argsort(-(utility + rng.normal(0, 1.5, utility.shape)), axis=1)[:, :30]
    exam = shoppers.examination(n)
    truth = {name: float((shoppers.attraction(users, lists[:, :n]) * exam).sum(axis=1).mean())
             for name, lists in (("good", good), ("worse", worse))}
    assert truth["good"] > truth["worse"]  # the simulator's expected clicks per list

    wins = losses = ties = 0
    for _ in range(3):  # three visits per shopper
        merged = np.empty((len(users), n), dtype=np.int64)
        teams = np.empty((len(users), n), dtype=np.int64)
        for u in users:
            items, team = team_draft(list(good[u]), list(worse[u]), n, rng)
            merged[u], teams[u] = items, team
        clicks = shoppers.respond(users, merged, rng.random((len(users), n, 4))).viewed
        for u in users:
            r = outcome(teams[u], clicks[u])
            wins, losses, ties = wins + (r > 0), losses + (r < 0), ties + (r == 0)
        shoppers.end_day()
    pref = preference(wins, losses, ties)
    assert pref["delta"] > 0 and pref["p_value"] < 0.01, pref
