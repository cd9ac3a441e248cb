import numpy as np
import pytest
from scipy import integrate, stats

from shelfwise.data.interactions import Interactions
from shelfwise.models import create
from shelfwise.ranking.catalogue import category_codes
from shelfwise.ranking.exploration import CategoryThompson
from shelfwise.ranking.rules import RuleSet, compile_rules


def test_a_far_better_category_is_picked_with_propensity_near_one():
    bandit = CategoryThompson(3).update([0] * 100 + [1] * 100 + [2] * 100,
                                        [1] * 90 + [0] * 10 + [1] * 5 + [0] * 95 + [1] * 5 + [0] * 95)
    p = bandit.propensities()
    assert p[0] > 0.999
    k, prop = bandit.choose(np.random.default_rng(1))
    assert (k, prop) == (0, p[0])


def test_propensities_sum_to_one_and_match_the_exact_probability():
    bandit = CategoryThompson(4).update([0, 0, 0, 1, 1, 2], [1, 0, 1, 0, 1, 0])
    p = bandit.propensities()
    assert p.sum() == pytest.approx(1.0)
    assert (bandit.propensities() == p).all()  # fixed seed: the same posteriors, the same p
    # two arms, Beta(3, 2) against Beta(2, 2): P(X0 > X1) = integral of f0(x) F1(x) dx
    # = 12 * integral of x^2 (1 - x) (3x^2 - 2x^3) dx = 12 * (3/5 - 5/6 + 2/7) = 22/35
    two = CategoryThompson(2).update([0, 0, 0, 1, 1], [1, 1, 0, 0, 1])
    exact, _ = integrate.quad(lambda x: stats.beta(3, 2).pdf(x) * stats.beta(2, 2).cdf(x), 0, 1)
    assert exact == pytest.approx(22 / 35, abs=1e-9)
    assert two.propensities()[0] == pytest.approx(exact, abs=0.01)


def test_logged_propensity_is_the_frequency_of_the_choice():
    bandit = CategoryThompson(3).update([0, 1, 1, 2], [1, 1, 0, 0])
    p = bandit.propensities()
    rng = np.random.default_rng(7)
    picks = [bandit.choose(rng) for _ in range(4000)]
    freq = np.bincount([k for k, _ in picks], minlength=3) / len(picks)
    np.testing.assert_allclose(freq, p, atol=0.03)
    assert all(prop == p[k] for k, prop in picks)


def test_update_checks_its_input():
    bandit = CategoryThompson(2)
    with pytest.raises(ValueError, match=r"categories must be in \[0, 2\)"):
        bandit.update([2], [1])
    with pytest.raises(ValueError, match=r"clicks must be in \[0, 1\]"):
        bandit.update([0], [2])


def test_slot_obeys_rules_and_shows_the_best_ranked_item_of_the_category(small_shop):
    """Synthetic shop: the slot never shows an out-of-stock item, shows the best-ranked item
    of its category, and its propensities over the offered categories sum to one."""
    inter = Interactions.from_events(small_shop.events, items=small_shop.items)
    codes, names = category_codes(inter.items, inter.n_items, depth=1)  # departments
    eligible = compile_rules(RuleSet(), inter.items, inter.item_ids).eligible
    items, _ = create("popular").fit(inter).recommend(np.arange(40), n=inter.n_items)
    bandit = CategoryThompson(len(names)).update(codes[items[0, :50]], np.r_[np.ones(25), np.zeros(25)])
    rng = np.random.default_rng(0)
    for row in items:
        pick = bandit.fill_slot(row, codes, rng, eligible=eligible, taken=row[:5])
        assert eligible[pick.item] and pick.item not in row[:5]
        pool = row[5:][eligible[row[5:]]]
        assert pick.item == pool[codes[pool] == pick.category][0]
        offered = np.zeros(len(names), bool)
        offered[codes[pool]] = True
        assert pick.propensity == bandit.propensities(offered)[pick.category]
        assert bandit.propensities(offered).sum() == pytest.approx(1.0)
    assert bandit.fill_slot(np.array([-1, -1]), codes, rng) is None
