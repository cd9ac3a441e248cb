"""EASE past ``max_items`` by connected components: the same closed form as EASE over the
whole catalogue (the known answer: EASE's dense path with ``max_items`` above the catalogue),
on two real logs as one shop (MovieLens-100k, one large component kept as a dense block, and
600 Taobao shoppers, many small components kept sparse); forgetting equals a fit without
the shopper; a component over ``max_items`` falls back to the cut."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.data.loaders import load_recbole, load_taobao
from shelfwise.models import create
from shelfwise.models.base import Recommender
from shelfwise.models.ease_blocks import SMALL, ease_weights, item_components, split_components


@pytest.fixture(scope="module")
def two_shops(data_dir):
    taobao = load_taobao(data_dir / "taobao-userbehavior/UserBehavior_timeslice.csv").events
    taobao = taobao[taobao["user_id"].isin(taobao["user_id"].drop_duplicates().iloc[:600])]
    parts = []
    for name, events in (("ml", load_recbole(data_dir / "movielens-100k", "ml-100k").events), ("tb", taobao)):
        events = events.copy()
        for col in ("user_id", "item_id"):
            events[col] = name + ":" + events[col].astype(str)
        parts.append(events)
    return pd.concat(parts, ignore_index=True)


def _fits(view: Interactions) -> int:
    """The smallest ``max_items`` for which the components' blocks fit."""
    sizes = np.bincount(item_components(view.binary)).astype(np.int64)
    return int(np.ceil(np.sqrt((sizes ** 2).sum())))


def test_components_equal_ease_over_the_whole_catalogue(two_shops, tmp_path):
    view = Interactions.from_events(two_shops)
    sizes = np.bincount(item_components(view.binary))
    assert sizes.max() > SMALL and (sizes <= SMALL).sum() > 100  # a dense block and many sparse ones
    m = int(np.ceil(np.sqrt((sizes.astype(np.int64) ** 2).sum())))  # the blocks fit; the catalogue does not
    assert view.n_items > m + 1000
    blocks = create("ease", l2=50.0, max_items=m).fit(view)
    whole = create("ease", l2=50.0, max_items=view.n_items).fit(view)  # EASE's dense path, unchanged
    assert blocks.blocks_ is not None and whole.blocks_ is None and len(blocks.tail_) == 0
    users = np.arange(0, view.n_users, 7)
    np.testing.assert_allclose(blocks.score(users), whole.score(users), atol=2e-5)
    items, _ = blocks.recommend(users, 10)
    items_0, _ = whole.recommend(users, 10)
    assert (items == items_0).mean() > 0.99  # float32 sums in another order may swap near-ties
    probe = np.array([0, 5, view.n_items - 1, *np.flatnonzero(sizes[item_components(view.binary)] > SMALL)[:3]])
    np.testing.assert_allclose(blocks.score_columns(probe), whole.score_columns(probe), atol=2e-5)
    np.testing.assert_allclose(blocks.similar_items(probe, 5)[1], whole.similar_items(probe, 5)[1], atol=2e-5)
    reopened = Recommender.load(blocks.save(tmp_path / "ease"))
    np.testing.assert_array_equal(reopened.score(users), blocks.score(users))


def test_forgetting_with_components_equals_a_fit_without_them(two_shops):
    full = Interactions.from_events(two_shops)
    m = _fits(full)
    counts = two_shops["user_id"].value_counts()
    forgotten = [str(counts.index[0]), "tb:" + str(two_shops["user_id"].str.removeprefix("tb:").iloc[-1])]
    forgotten = [u for u in forgotten if u in set(full.user_ids)]
    keep = [u for u in full.user_ids if u not in set(forgotten)]
    without = Interactions.from_events(two_shops[~two_shops["user_id"].isin(forgotten)], weights=full.weights,
                                       user_ids=keep, item_ids=full.item_ids)
    model = create("ease", l2=50.0, max_items=m).fit(full)
    model.forget_users(full.users_to_indices(forgotten), full)
    fresh = create("ease", l2=50.0, max_items=m).fit(without)
    assert model.blocks_ is not None and fresh.blocks_ is not None and model.forgets_exactly
    items, scores = model.recommend(full.users_to_indices(keep), 10)
    items_0, scores_0 = fresh.recommend(without.users_to_indices(keep), 10)
    np.testing.assert_array_equal(items, items_0)
    np.testing.assert_allclose(scores, scores_0, rtol=1e-5, atol=1e-6)


def test_a_component_over_max_items_falls_back_to_the_cut(two_shops):
    view = Interactions.from_events(two_shops)
    m = int(np.bincount(item_components(view.binary)).max()) - 1
    model = create("ease", l2=50.0, max_items=m).fit(view)
    assert model.blocks_ is None and len(model.kept_) == m and len(model.tail_) == view.n_items - m
    cut = create("ease", l2=50.0, max_items=m, past_max_items="cut").fit(view)
    np.testing.assert_array_equal(cut.weights_, model.weights_)


def test_blocks_split_a_large_component_and_solve_each_piece_exactly(two_shops):
    """``past_max_items="blocks"``: a component over the limit is cut into pieces of at most
    max_items^2 / n items, within their component, and each piece's B is EASE's closed form
    on that piece's items alone (the known answer, solved here independently)."""
    view = Interactions.from_events(two_shops)
    components = item_components(view.binary)
    m = int(np.bincount(components).max()) - 1  # the largest component (MovieLens) is over it
    model = create("ease", l2=50.0, max_items=m, past_max_items="blocks").fit(view)
    assert model.blocks_ is not None and len(model.tail_) == 0
    limit = m * m // view.n_items
    labels = split_components(view.binary, components, limit)
    sizes = np.bincount(labels)
    assert sizes.max() <= limit and (sizes.astype(np.int64) ** 2).sum() <= m * m
    for piece in range(len(sizes)):  # each piece lies within one component
        assert len(np.unique(components[labels == piece])) == 1
    big = np.bincount(components).argmax()
    assert len(np.unique(labels[components == big])) >= 2  # the large one was split
    assert len(model.blocks_.items) >= 2  # pieces kept as dense blocks, checked below
    x = view.binary.tocsc().astype(np.float32)
    for its in model.blocks_.items[:3]:
        want = ease_weights((x[:, its].T @ x[:, its]).toarray(), 50.0)
        got = model.blocks_.rows(its)[:, its]
        np.testing.assert_allclose(got, want, atol=1e-6)
        outside = np.setdiff1d(np.arange(view.n_items), its)
        assert not model.blocks_.rows(its[:5])[:, outside].any()  # links between pieces dropped
    again = create("ease", l2=50.0, max_items=m, past_max_items="blocks").fit(view)
    users = np.arange(0, view.n_users, 11)
    np.testing.assert_array_equal(again.score(users), model.score(users))  # deterministic
