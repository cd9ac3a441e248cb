"""Count-based models forget exactly: after ``forget_users`` every other shopper's top-N list
and scores equal those of the same model fitted from scratch on the events without the
forgotten shopper's, on the synthetic shop and on a real log (UCI Online Retail, France:
invoices as baskets).

The fit from scratch reads the same catalogue in the same item order (``item_ids``): the item
space is the shop's, not the shopper's, and ties are broken by item index, so a different
order would reorder tied items for reasons that have nothing to do with forgetting. The
forgotten shopper has no row at all in it (``user_ids`` without them)."""

from __future__ import annotations

import numpy as np
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_online_retail
from shelfwise.models import create

#: (registry name, parameters): every model whose ``forgets_exactly`` is True, and the
#: variants whose counting differs (decay from the newest event, BM25's shopper-wide idf)
EXACT = [
    ("popular", {}),
    ("popular", {"count": "weighted", "half_life_days": 20.0}),
    ("popular", {"half_life_days": 20.0}),
    ("itemknn", {"k": 20}),
    ("itemknn", {"k": 20, "weighting": "bm25", "binary": False}),
    ("userknn", {"k": 20}),
    ("userknn", {"k": 20, "weighting": "bm25"}),
    ("rules", {"min_count": 2}),
    ("ease", {"l2": 50.0}),
    ("ease", {"l2": 50.0, "max_items": 120}),  # the modelled set follows the remaining counts
    ("repeat", {}),
    ("content", {}),
]
N = 10


def _views(events, items, forgotten: list[str]):
    """(the view with everyone, the view fitted from scratch without ``forgotten``)."""
    full = Interactions.from_events(events, items=items)
    keep = [u for u in full.user_ids if u not in set(forgotten)]
    without = Interactions.from_events(events[~events["user_id"].astype(str).isin(forgotten)], items=items,
                                       weights=full.weights, user_ids=keep, item_ids=full.item_ids)
    return full, without


def _check_equal(name, params, full: Interactions, without: Interactions, forgotten: list[str]):
    model = create(name, **params).fit(full)
    model.forget_users(full.users_to_indices(forgotten), full)
    fresh = create(name, **params).fit(without)
    others = [u for u in full.user_ids if u not in set(forgotten)]
    items, scores = model.recommend(full.users_to_indices(others), N)
    items_0, scores_0 = fresh.recommend(without.users_to_indices(others), N)
    assert np.array_equal(items, items_0), (name, params)  # item spaces are the same
    np.testing.assert_allclose(scores, scores_0, rtol=1e-5, atol=1e-6)
    return model


@pytest.fixture(scope="module")
def synthetic(small_shop):
    events, items = small_shop.events, small_shop.items
    counts = events["user_id"].value_counts()
    # the heaviest shopper (in most co-occurrences) and a light one, together
    forgotten = [str(counts.index[0]), str(counts.index[len(counts) // 2])]
    return (*_views(events, items, forgotten), forgotten)


@pytest.mark.parametrize(("name", "params"), EXACT, ids=[f"{n}-{i}" for i, (n, _) in enumerate(EXACT)])
def test_forgetting_equals_a_fit_without_them_on_the_synthetic_shop(synthetic, name, params):
    full, without, forgotten = synthetic
    model = _check_equal(name, params, full, without, forgotten)
    assert model.forgets_exactly


@pytest.mark.parametrize(("name", "params"), [("popular", {}), ("itemknn", {"k": 50}), ("rules", {"min_count": 2}),
                                              ("ease", {}), ("userknn", {"k": 20}), ("repeat", {})])
def test_forgetting_equals_a_fit_without_them_on_online_retail(data_dir, name, params):
    ds = load_online_retail(data_dir / "online-retail/france.csv")
    counts = ds.events["user_id"].value_counts()
    forgotten = [str(counts.index[0])]  # the shop's biggest customer: in the most baskets
    full, without = _views(ds.events, ds.items, forgotten)
    _check_equal(name, params, full, without, forgotten)


def test_the_forgotten_shoppers_item_counts_are_gone(synthetic):
    """A known answer: popularity drops by exactly one on each item the shoppers touched."""
    full, _, forgotten = synthetic
    model = create("popular").fit(full)
    before = model.popularity_.copy()
    users = full.users_to_indices(forgotten)
    model.forget_users(users, full)
    touched = np.asarray(full.binary[users].sum(axis=0)).ravel()
    assert touched.sum() > 0
    np.testing.assert_array_equal(before - model.popularity_, touched)


@pytest.mark.parametrize(("k", "binary"), [(3, True), (3, False), (40, True)])
def test_itemknn_subtracts_in_place_to_the_same_bits(synthetic, k, binary):
    """Item-kNN (cosine) recomputes only the rows and columns of the items the shoppers
    touched and keeps every other entry: its similarity matrix equals the fit without them
    bit for bit, however hard ``k`` prunes the rows."""
    full, without, forgotten = synthetic
    model = create("itemknn", k=k, binary=binary).fit(full)
    old = model.similarity_.copy()
    model.forget_users(full.users_to_indices(forgotten), full)
    fresh = create("itemknn", k=k, binary=binary).fit(without)
    assert (old != fresh.similarity_).nnz > 0  # the shoppers counted
    assert model.similarity_.dtype == fresh.similarity_.dtype
    assert (model.similarity_ != fresh.similarity_).nnz == 0
