"""The forgetting contract, over every registered model: after ``forget_users`` the shoppers
have no state left in the model, in memory or in its files reopened. Every per-shopper
array (``seen_``, profiles, factors, histories, UserKNN's rows, the hybrid's histories,
exclusion mask and training targets, its retrievers' own) holds nothing in their rows, and
two forgotten shoppers with different histories get the very same scores: nothing tells
them apart any more."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.data.synthetic import generate_shop
from shelfwise.models import MODELS, create
from shelfwise.models.base import Recommender

SEQ = {"dim": 16, "layers": 1, "heads": 2, "max_len": 10, "max_epochs": 1, "refit_epochs": 0,
       "item_groups": False, "n_validation_users": 50}
FAST = {"als": {"factors": 8, "iterations": 3}, "bpr": {"factors": 8, "iterations": 5},
        "sasrec": SEQ, "bert4rec": SEQ, "gru4rec": SEQ, "bilstm_transformer": SEQ,
        "hybrid": {"retrievers": [["itemknn", 20], ["als", 20], ["userknn", 10], ["popular", 10]], "fusion": "weighted",
                   "retriever_params": {"als": {"factors": 8, "iterations": 3}}}}


@pytest.fixture(scope="module")
def shop():
    shop = generate_shop(n_users=160, n_items=90, seed=5)
    view = Interactions.from_events(shop.events, items=shop.items)
    counts = np.diff(view.seq_indptr)
    forgotten = np.argsort(-counts, kind="stable")[[0, 7]]  # two shoppers with long, different histories
    return view, forgotten


def _states(folder) -> list[tuple[str, dict]]:
    """(model folder, arrays) of a saved model and of every model saved inside it."""
    out = []
    for state in sorted(folder.rglob("state.npz")):
        z = np.load(state, allow_pickle=False)
        out.append((str(state.parent.relative_to(folder)), {k: z[k] for k in z.files}))
    return out


def _per_shopper_rows_empty(arrays: dict, n_users: int, users: np.ndarray) -> int:
    """Assert every per-shopper array has nothing in ``users``' rows; returns how many arrays
    were checked."""
    checked = 0
    for key in arrays:
        if key.endswith(".shape"):
            base = key[:-len(".shape")]
            shape = tuple(arrays[key])
            if shape[0] == n_users:
                m = sp.csr_matrix((arrays[f"{base}.data"], arrays[f"{base}.indices"], arrays[f"{base}.indptr"]),
                                  shape=shape)
                assert m[users].nnz == 0, key
                checked += 1
        elif key == "hist.indptr":  # the hybrid's histories, in CSR layout
            assert (np.diff(arrays[key])[users] == 0).all()
            checked += 1
        elif key == "training_targets_":
            assert not np.isin(arrays[key][:, 0], users).any()
            checked += 1
        elif "." not in key and arrays[key].ndim >= 1 and arrays[key].shape[0] == n_users:
            assert not np.any(arrays[key][users]), key
            checked += 1
    return checked


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_forgotten_shopper_leaves_no_state_in_any_model(shop, tmp_path, name):
    view, users = shop
    model = create(name, **FAST.get(name, {})).fit(view)
    assert view.n_users != view.n_items  # so an item-sized array is never taken for a shopper-sized one
    if "global" not in model.capabilities:
        assert not np.array_equal(model.score(users[:1]), model.score(users[1:])), "they differed before"

    model.forget_users(users, view)
    path = model.save(tmp_path / name)
    reopened = Recommender.load(path)
    for m in (model, reopened):
        scores = m.score(users)
        np.testing.assert_array_equal(scores[0], scores[1])  # nothing tells them apart
    checked = sum(_per_shopper_rows_empty(arrays, view.n_users, users) for _, arrays in _states(path))
    assert checked >= 1  # seen_ at least
    for user in view.user_ids[users]:  # no model file names a shopper (ids live in the view only)
        assert not any(user.encode() in p.read_bytes() for p in path.rglob("*") if p.is_file())
    others = np.setdiff1d(np.arange(view.n_users), users)[:20]
    assert np.isfinite(reopened.recommend(others, 5)[1][:, 0]).all()  # the rest are still served
