import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from shelfwise.data.interactions import Interactions
from shelfwise.models import create
from shelfwise.ranking.rules import RuleSet, apply_rules, apply_rules_batch, compile_rules

CATALOGUE = pd.DataFrame([
    ("P0", ["Beauty", "Skin care"], "Aco", 10.0, True),
    ("P1", ["Beauty", "Make-up"], "Aco", 20.0, True),
    ("P2", ["Beauty", "Skin care"], "Aco", 30.0, True),
    ("P3", ["Grocery", "Coffee"], "Bee", 5.0, False),  # out of stock
    ("P4", ["Grocery", "Coffee"], "Bee", 8.0, True),
    ("P5", ["Beauty", "Hair"], "Cee", np.nan, True),  # no price
    ("P6", ["Home", "Decor"], "Bee", 50.0, True),
    ("P7", ["Home", "Decor"], None, 15.0, True),  # no brand
    ("P8", ["Beauty", "Make-up"], "Cee", 12.0, True),
    ("P9", ["Grocery", "Snacks"], "Dee", 3.0, True),
    ("P10", ["Home", "Kitchen"], "Dee", 40.0, True),
    ("P11", ["Grocery", "Snacks"], "Eff", 4.0, True),
], columns=["item_id", "category", "brand", "price", "in_stock"])
IDS = CATALOGUE["item_id"].to_numpy(dtype=object)
RANKED = np.arange(10)  # P0..P9, best first
SCORES = np.arange(10, 0, -1).astype(np.float32)
FALLBACK = np.array([11, 3, 10])


def run(n, fallback=FALLBACK, **rules):
    return apply_rules(compile_rules(RuleSet(**rules), CATALOGUE, IDS), RANKED, SCORES, n, fallback)


def test_no_rules_drops_only_out_of_stock():
    r = run(5)
    assert r.items.tolist() == [0, 1, 2, 4, 5]
    assert r.scores.tolist() == [10, 9, 8, 6, 5]
    assert r.source.tolist() == ["ranked"] * 5


def test_out_of_stock_never_shown_on_any_path():
    # P3 is ranked, in the fallback, matches the promotion and is pinned: it still never shows
    r = run(12, promotion={"filter": {"categories": ["Grocery > Coffee"]}, "share": 0.5},
            pinned=[{"item_id": "P3", "position": 1}])
    assert 3 not in r.items.tolist()
    assert r.items.tolist() == [0, 1, 2, 4, 5, 6, 7, 8, 9, 11, 10, -1]
    assert r.source.tolist()[3] == "promoted"
    assert r.source.tolist()[9:] == ["fallback", "fallback", ""]
    assert compile_rules(RuleSet(pinned=[{"item_id": "P3", "position": 1}]), CATALOGUE,
                         IDS).dropped_pins == ["P3: out of stock or hidden"]


def test_hidden_items_never_shown():
    r = run(12, hidden_items=["P0", "P11"], pinned=[{"item_id": "P0", "position": 2}])
    assert r.items.tolist() == [1, 2, 4, 5, 6, 7, 8, 9, 10, -1, -1, -1]


def test_category_include_and_exclude():
    r = run(5, include_categories=["Beauty"], exclude_categories=["Beauty > Make-up"])
    assert r.items.tolist() == [0, 2, 5, -1, -1]  # the fallback holds no such item


def test_price_range_drops_items_without_price():
    assert run(5, min_price=5, max_price=20).items.tolist() == [0, 1, 4, 7, 8]


def test_brand_cap():
    # Aco's third item (P2) is skipped; P7 has no brand and is not capped
    assert run(6, max_per_brand=2).items.tolist() == [0, 1, 4, 5, 6, 7]


def test_brand_cap_with_promoted_share():
    # n = 5, share 0.2: one slot for Home > Kitchen, which only the fallback's P10 fills; it
    # takes P6's place, and Aco stays at two
    base = run(5, max_per_brand=2)
    assert base.items.tolist() == [0, 1, 4, 5, 6]
    r = run(5, max_per_brand=2,
            promotion={"filter": {"categories": ["Home > Kitchen"]}, "share": 0.2})
    assert r.items.tolist() == [0, 1, 4, 5, 10]
    assert r.source.tolist() == ["ranked"] * 4 + ["promoted"]
    # n = 10, share 0.2 of brands Eff / Dee: P9 (ranked) and P11 (fallback) take two slots,
    # and the cap of two holds across promoted and ordinary items (Dee: P9 and P10)
    r = run(10, max_per_brand=2, promotion={"filter": {"brands": ["Eff", "Dee"]}, "share": 0.2})
    assert r.items.tolist() == [0, 1, 4, 5, 6, 7, 8, 9, 11, 10]
    assert r.source.tolist() == ["ranked"] * 7 + ["promoted", "promoted", "fallback"]


def test_pinned_positions_bypass_filters_but_count_for_caps():
    r = run(5, include_categories=["Beauty"],
            pinned=[{"item_id": "P10", "position": 1}, {"item_id": "P7", "position": 3}])
    assert r.items.tolist() == [10, 0, 7, 1, 2]
    assert r.source.tolist() == ["pinned", "ranked", "pinned", "ranked", "ranked"]
    np.testing.assert_array_equal(r.scores, [np.nan, 10, 3, 9, 8])
    r = run(4, max_per_brand=1, pinned=[{"item_id": "P2", "position": 3}])
    assert r.items.tolist() == [4, 5, 2, 7]  # P2 uses Aco's one slot; P6 is Bee's second


def test_rule_sets_are_checked():
    with pytest.raises(ValidationError, match="min_price"):
        RuleSet(min_price=10, max_price=5)
    with pytest.raises(ValidationError, match="pinned positions must be distinct"):
        RuleSet(pinned=[{"item_id": "P1", "position": 2}, {"item_id": "P2", "position": 2}])
    with pytest.raises(ValidationError, match="share"):
        RuleSet(promotion={"filter": {}, "share": 0})
    with pytest.raises(ValidationError, match="max_per_brand"):
        RuleSet(max_per_brand=0)


def test_rules_hold_on_a_synthetic_shop(small_shop):
    """Real model output on the synthetic shop: every list obeys every rule at once."""
    inter = Interactions.from_events(small_shop.events, items=small_shop.items)
    cat = inter.items
    assert (~cat["in_stock"]).sum() > 0
    model = create("itemknn").fit(inter)
    users = np.arange(0, inter.n_users, 5)
    items, scores = model.recommend(users, n=60)
    fallback, _ = create("popular").fit(inter).recommend([0], n=inter.n_items, exclude_seen=False)
    rules = RuleSet(max_per_brand=3, include_categories=["Beauty", "Grocery", "Home"],
                    promotion={"filter": {"categories": ["Grocery"]}, "share": 0.2})
    compiled = compile_rules(rules, cat, inter.item_ids)
    out, _ = apply_rules_batch(compiled, items, scores, 10, fallback[0])
    assert (out >= 0).all()
    shown = cat.iloc[out.ravel()]
    assert shown["in_stock"].all()
    assert shown["category"].map(lambda c: c[0] in {"Beauty", "Grocery", "Home"}).all()
    per_list_brand = pd.DataFrame({"row": np.repeat(np.arange(len(out)), 10),
                                   "brand": shown["brand"].to_numpy()})
    assert per_list_brand.value_counts().max() <= 3
    grocery = shown["category"].map(lambda c: c[0] == "Grocery").to_numpy().reshape(out.shape)
    assert (grocery.sum(1) >= 2).all()
