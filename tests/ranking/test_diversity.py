import numpy as np
import pandas as pd
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.models import create
from shelfwise.ranking.diversity import attribute_similarity, mmr, vector_similarity

CATALOGUE = pd.DataFrame({
    "item_id": ["A", "B", "C", "D"],
    "category": [["Beauty", "Skin care"], ["Beauty", "Skin care"], ["Beauty", "Hair"], ["Home"]],
    "brand": ["X", "X", "Y", None],
})
ITEMS = np.array([[0, 1, 2]])
SCORES = np.array([[1.0, 0.9, 0.8]])


def test_attribute_similarity_known_values():
    sim = attribute_similarity(CATALOGUE, np.array([[0, 1, 2, 3, -1]]))[0]
    np.testing.assert_allclose(sim[0, :4], [1.0, 1.0, 0.25, 0.0])  # A,B: same path and brand
    np.testing.assert_allclose(sim[2, :4], [0.25, 0.25, 1.0, 0.0])  # half the path, other brand
    assert sim[3, 3] == 0.5  # D: a one-level path, no brand
    assert not sim[4].any() and not sim[:, 4].any()  # padding is like nothing


def test_lambda_one_keeps_the_relevance_order():
    items, scores = mmr(ITEMS, SCORES, attribute_similarity(CATALOGUE, ITEMS), 3, lam=1.0)
    assert items.tolist() == [[0, 1, 2]]
    np.testing.assert_allclose(scores, SCORES)


def test_hand_example_picks_the_different_item_second():
    # scaled relevance A 1, B 0.5, C 0; after A: B scores 0.5*0.5 - 0.5*1 = -0.25 and
    # C 0.5*0 - 0.5*0.25 = -0.125, so C comes second
    sim = attribute_similarity(CATALOGUE, ITEMS)
    assert mmr(ITEMS, SCORES, sim, 3, lam=0.5)[0].tolist() == [[0, 2, 1]]
    # lam = 0.9: B 0.45 - 0.1 = 0.35 beats C -0.025: relevance wins
    assert mmr(ITEMS, SCORES, sim, 3, lam=0.9)[0].tolist() == [[0, 1, 2]]


def test_item_vectors_and_batches_and_padding():
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0], [0.7, 0.7]])
    items = np.array([[0, 1, 2], [3, 0, -1]])
    scores = np.array([[1.0, 0.9, 0.8], [2.0, 1.0, -np.inf]])
    got, got_scores = mmr(items, scores, vector_similarity(vectors, items), 3, lam=0.5)
    assert got.tolist() == [[0, 2, 1], [3, 0, -1]]
    assert got_scores[1, 2] == -np.inf
    with pytest.raises(ValueError, match=r"lam must be in \[0, 1\]. Got 1.5"):
        mmr(items, scores, vector_similarity(vectors, items), 3, lam=1.5)


def test_lower_lambda_diversifies_real_lists(small_shop):
    """On the synthetic shop, lists cover more distinct categories as lambda falls, and
    lambda = 1 returns the model's own top 10."""
    inter = Interactions.from_events(small_shop.events, items=small_shop.items)
    users = np.arange(0, inter.n_users, 4)
    items, scores = create("itemknn").fit(inter).recommend(users, n=50)
    sim = attribute_similarity(inter.items, items)
    top, _ = mmr(items, scores, sim, 10, lam=1.0)
    assert (top == items[:, :10]).all()
    cats = inter.items["category"].map(lambda c: " > ".join(c)).to_numpy()
    distinct = [np.mean([len(set(cats[row[row >= 0]])) for row in mmr(items, scores, sim, 10, lam=lam)[0]])
                for lam in (1.0, 0.7, 0.3)]
    assert distinct[0] < distinct[1] < distinct[2], distinct
