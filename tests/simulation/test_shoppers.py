"""Known answers of the shopper response model on hand-made shops."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from shelfwise.data.synthetic import ShopTruth
from shelfwise.simulation import ShopperParams, Shoppers


def shop(categories, factors, taste, *, bias=None, consumable=None, in_stock=None):
    """A truth and catalogue from per-item category paths and (n_items, d) factors."""
    factors = np.asarray(factors, dtype=np.float64)
    taste = np.asarray(taste, dtype=np.float64)
    n = len(categories)
    truth = ShopTruth(item_factors=factors, item_bias=np.zeros(n) if bias is None else np.asarray(bias),
                      user_start=taste, user_drift=np.zeros_like(taste), t_start=0.0, t_end=1.0)
    catalogue = pd.DataFrame({
        "item_id": [f"I{i}" for i in range(n)], "category": categories,
        "in_stock": [True] * n if in_stock is None else in_stock,
        "attributes": [{"consumable": c} for c in (consumable or [True] * n)]})
    return truth, catalogue


def test_a_shopper_who_likes_one_category_buys_only_from_it():
    # 3 categories x 4 consumable items; factors one-hot by category, so utility is
    # 3 * taste[c]: +30 for the liked category, -30 for the others (attraction ~ 1e-14)
    cats = [["A", "a"]] * 4 + [["B", "b"]] * 4 + [["C", "c"]] * 4
    factors = np.repeat(np.eye(3), 4, axis=0)
    taste = np.array([[10.0, -10.0, -10.0]] * 20 + [[-10.0, 10.0, -10.0]] * 20)
    shoppers = Shoppers(*shop(cats, factors, taste))
    rng = np.random.default_rng(0)
    users = np.arange(40)
    liked = np.repeat(["A", "B"], 20)
    bought = np.zeros((40, 12), int)
    for _ in range(60):  # every shopper sees the whole catalogue, in a new order, every day
        lists = np.stack([rng.permutation(12) for _ in users])
        r = shoppers.respond(users, lists, rng.random((40, 12, 4)))
        b, k = np.nonzero(r.viewed)
        assert (np.array(cats)[lists[b, k], 0] == liked[b]).all()
        np.add.at(bought, (np.nonzero(r.purchased)[0], lists[r.purchased]), 1)
        shoppers.end_day()
    assert bought[:20, :4].sum() > 100 and bought[20:, 4:8].sum() > 100
    assert bought[:20, 4:].sum() == 0 and bought[20:, :4].sum() == 0 and bought[20:, 8:].sum() == 0


def test_attraction_satiation_and_its_decay_by_hand():
    # utility 3 * 1.0 * 0.5 + 0 = 1.5 = the offset: attraction sigmoid(0) = 0.5
    truth, catalogue = shop([["A"], ["A"], ["B"]], [[0.5], [0.5], [0.5]], [[1.0]])
    shoppers = Shoppers(truth, catalogue, params=ShopperParams(boredom=0.5, boredom_decay=0.8))
    np.testing.assert_allclose(shoppers.attraction(np.array([0]), np.array([[0, 1, 2, -1]])),
                               [[0.5, 0.5, 0.5, 0.0]])
    u = np.zeros((1, 2, 4))
    u[..., 1:] = 1.0  # both examined (0 < 1, 0 < 1/2), nothing viewed
    r = shoppers.respond(np.array([0]), np.array([[0, 1]]), u)
    assert r.examined.all() and not r.viewed.any()
    # two examined items of A: F_A = 2, u_eff = 1.5 - 0.5 * 2 = 0.5; B untouched
    np.testing.assert_allclose(shoppers.attraction(np.array([0]), np.array([[0, 2]])),
                               [[expit(-1.0), 0.5]])
    shoppers.end_day()  # F_A = 1.6: u_eff = 1.5 - 0.8
    np.testing.assert_allclose(shoppers.attraction(np.array([0]), np.array([[1]])), [[expit(-0.8)]])


def test_position_bias_is_one_over_rank_to_the_eta():
    truth, catalogue = shop([["A"]], [[0.0]], [[0.0]])
    np.testing.assert_allclose(Shoppers(truth, catalogue).examination(4), [1, 1 / 2, 1 / 3, 1 / 4])
    flat = Shoppers(truth, catalogue, params=ShopperParams(position_eta=0.0))
    np.testing.assert_allclose(flat.examination(3), [1, 1, 1])
    steep = Shoppers(truth, catalogue, params=ShopperParams(position_eta=2.0))
    np.testing.assert_allclose(steep.examination(3), [1, 1 / 4, 1 / 9])


def test_owned_durables_are_not_bought_again_and_out_of_stock_is_never_carted():
    truth, catalogue = shop([["A"]] * 3, [[1.0]] * 3, [[5.0]], consumable=[False, True, False],
                            in_stock=[True, True, False])
    shoppers = Shoppers(truth, catalogue)
    zeros = np.zeros((1, 3, 4))  # every draw succeeds
    r = shoppers.respond(np.array([0]), np.array([[0, 1, 2]]), zeros)
    assert r.viewed.tolist() == [[True, True, True]]
    assert r.purchased.tolist() == [[True, True, False]]  # item 2 is out of stock
    assert shoppers.owned[0].tolist() == [True, False, False]  # the consumable is not "owned"
    again = shoppers.respond(np.array([0]), np.array([[0, 1, 2]]), zeros)
    assert again.purchased.tolist() == [[False, True, False]]
    assert shoppers.attraction(np.array([0]), np.array([[0]])).tolist() == [[0.0]]


def test_history_purchases_of_durables_count_as_owned():
    truth, catalogue = shop([["A"]] * 2, [[1.0]] * 2, [[5.0]], consumable=[False, True])
    shoppers = Shoppers(truth, catalogue, owned=np.array([[True, True]]))
    assert shoppers.owned.tolist() == [[True, False]]


@pytest.mark.parametrize(("field", "value"), [("boredom", -1.0), ("cart_rate", 1.5),
                                              ("position_eta", float("nan")), ("category_depth", 0)])
def test_bad_parameters_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ShopperParams(**{field: value})
