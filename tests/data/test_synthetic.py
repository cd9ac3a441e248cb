import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions
from shelfwise.data.synthetic import generate_shop
from shelfwise.data.validation import validate_events
from shelfwise.models import create


def test_same_seed_same_shop_other_seed_other_shop(small_shop):
    again = generate_shop(n_users=400, n_items=300, seed=3)
    pd.testing.assert_frame_equal(small_shop.events, again.events)
    other = generate_shop(n_users=400, n_items=300, seed=4)
    assert not small_shop.events["event_id"].equals(other.events["event_id"])


def test_events_are_valid_and_ids_unique(small_shop):
    ev = small_shop.events
    clean, errors = validate_events(ev.drop(columns="event_id"))
    assert not errors
    assert clean["event_id"].tolist() == ev["event_id"].tolist()
    assert ev["event_id"].is_unique


def test_catalogue_is_readable_with_a_category_tree(small_shop):
    items = small_shop.items
    assert items["category"].map(len).eq(3).all()
    assert items["price"].gt(0).all()
    first = items.iloc[0]
    assert first["brand"] in first["title"] and first["category"][2] in first["title"]


def test_funnel_rates_are_plausible_and_ordered(small_shop):
    ev = small_shop.events
    counts = ev["event_type"].value_counts()
    assert counts["view"] > counts["cart"] > counts["purchase"] > counts["review"]
    view_to_cart = counts["cart"] / counts["view"]
    assert 0.03 < view_to_cart < 0.25
    # every purchase was carted earlier in the same session
    first_cart = ev[ev.event_type == "cart"].groupby(["session_id", "item_id"])["timestamp"].min()
    first_buy = ev[ev.event_type == "purchase"].groupby(["session_id", "item_id"])["timestamp"].min()
    assert first_buy.index.isin(first_cart.index).all()
    assert (first_buy > first_cart.reindex(first_buy.index)).all()


def test_only_consumables_are_bought_again(small_shop):
    buys = small_shop.events[small_shop.events.event_type == "purchase"]
    repeats = buys.groupby(["user_id", "item_id"]).size()
    repeated_items = repeats[repeats > 1].index.get_level_values("item_id").unique()
    consumable = small_shop.items.set_index("item_id")["attributes"].map(lambda a: a["consumable"])
    assert len(repeated_items) > 0
    assert consumable[repeated_items].all()


def test_popularity_has_a_long_tail(small_shop):
    counts = small_shop.events.groupby("item_id").size().sort_values(ascending=False)
    top_tenth = counts.iloc[: len(counts) // 10].sum() / counts.sum()
    assert top_tenth > 0.25  # the top 10% of items draw far more than 10% of events


def test_learning_beats_chance_on_the_true_preferences(small_shop):
    """ItemKNN's top items have higher true utility than random unseen items."""
    view = Interactions.from_events(small_shop.events, item_ids=small_shop.item_ids,
                                    user_ids=small_shop.user_ids)
    recs, _ = create("itemknn").fit(view).recommend(np.arange(view.n_users), n=10)
    util = small_shop.truth.utility(np.arange(view.n_users))
    rng = np.random.default_rng(0)
    seen = view.binary.toarray() > 0
    model_u, random_u = [], []
    for u in range(view.n_users):
        unseen = np.flatnonzero(~seen[u])
        model_u.append(util[u, recs[u][recs[u] >= 0]].mean())
        random_u.append(util[u, rng.choice(unseen, 10, replace=False)].mean())
    assert np.mean(model_u) > np.mean(random_u) + 0.5


def test_a_small_catalogue_whose_last_product_kinds_are_empty_still_generates():
    # seed 0 with 150 items leaves the last of the 72 product kinds without items; a shopper
    # browsing it used to index one past the catalogue
    shop = generate_shop(n_users=50, n_items=150, seed=0)
    kinds = shop.items["category"].map(lambda c: c[2])
    assert "bottle cage" not in set(kinds)  # the last kind of the taxonomy
    assert shop.events["item_id"].isin(shop.items["item_id"]).all() and len(shop.events) > 100
