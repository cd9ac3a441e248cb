"""SASRec trained on two processes (``processes=2``: torchrun, DistributedDataParallel over
gloo) against one process: the same step on the same batch, and a model of the same quality
that serves like any other. Each test starts one two-process run (about 5 s of start-up on
an idle 2-core machine)."""

import re

import numpy as np
import pytest

from shelfwise.data.interactions import Interactions
from shelfwise.models import Recommender, create
from shelfwise.models.params import InvalidParameterError

from .test_sequential import cycle_view

torch = pytest.importorskip("torch")


@pytest.fixture
def one_thread():
    # the one-process reference on one core, as each of two ranks has on this 2-core machine
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_one_step_on_two_ranks_is_the_one_process_step_on_the_whole_batch(one_thread):
    """Known answer: one batch holding every training row (300 shoppers), one epoch, no
    dropout: each rank computes the loss on half of the rows, DDP averages the gradients, and
    the weights after the step are the one-process weights."""
    params = {"dim": 16, "layers": 1, "heads": 1, "max_len": 8, "dropout": 0.0,
              "batch_size": 512, "max_epochs": 1, "refit_epochs": 0, "item_groups": False}
    view = cycle_view()
    alone = create("sasrec", **params).fit(view)
    seen = []
    ranks = create("sasrec", processes=2, **params).fit(view, on_epoch=lambda *e: seen.append(e))
    # the batch's mean loss (summed from the ranks' shares) and the validation after the step
    assert ranks.history_[0]["loss"] == pytest.approx(alone.history_[0]["loss"], rel=1e-6)
    assert ranks.best_validation_ndcg_ == pytest.approx(alone.best_validation_ndcg_, abs=1e-9)
    assert seen == [(1, ranks.history_[0]["val_ndcg@10"])]
    # Adam's first step moves each weight by about lr * sign(gradient): 7e-3 wherever the
    # gradient is not zero, so a gradient that differed (half a batch, no averaging) would
    # show as differences of 1e-2. Weights whose true gradient is zero (the attention's key
    # bias) move by float noise, which stays well under lr / 10.
    a, b = alone.net_.state_dict(), ranks.net_.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(b[name].numpy(), a[name].numpy(), rtol=0, atol=alone.lr / 10,
                                   err_msg=name)


@pytest.fixture(scope="module")
def beauty_slice(data_dir):
    """Amazon Beauty, its 300 most reviewed products, the first 1,200 reviewers with at
    least four reviews among them."""
    from shelfwise.data.loaders import load_amazon

    events = load_amazon(data_dir / "amazon-beauty", "Beauty").events
    events = events[events["item_id"].isin(events["item_id"].value_counts().index[:300])]
    counts = events.groupby("user_id", sort=False).size()
    return Interactions.from_events(events[events["user_id"].isin(counts.index[counts >= 4][:1200])])


def test_two_processes_fit_a_model_that_serves_like_one_process(beauty_slice, one_thread,
                                                                 tmp_path):
    params = {"dim": 32, "layers": 1, "heads": 1, "max_len": 20, "max_epochs": 5,
              "patience": 5, "refit_epochs": 1, "max_minutes": 2.0}
    view = beauty_slice
    alone = create("sasrec", **params).fit(view)
    model = create("sasrec", processes=2, **params).fit(view)
    assert [h["epoch"] for h in model.history_] == list(range(1, 6))
    # Same range as one process: on this slice, seeds 0, 1, 2 gave validation NDCG@10 0.165,
    # 0.172, 0.170 on one process and 0.165, 0.169, 0.177 on two (at most 0.008 apart at the
    # same seed); the bounds leave room for about four times that
    assert 0.13 < model.best_validation_ndcg_ < 0.22
    assert abs(model.best_validation_ndcg_ - alone.best_validation_ndcg_) < 0.03
    # the Recommender contract: shapes, best first, seen items out, batch = one at a time
    users = np.arange(40)
    items, scores = model.recommend(users, n=10)
    assert items.shape == scores.shape == (40, 10) and (items >= 0).all()
    assert (np.diff(scores, axis=1) <= 0).all()
    seen = view.binary[users].toarray() > 0
    assert not seen[np.arange(40)[:, None], items].any()
    one_items, one_scores = model.recommend([7], n=10)
    np.testing.assert_array_equal(one_items[0], items[7])
    np.testing.assert_allclose(one_scores[0], scores[7], rtol=1e-5, atol=1e-6)
    # saved as an ordinary model: no trace of the processes but the parameter
    model.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    assert type(back) is type(model) and back.get_params() == model.get_params()
    assert back.get_params()["processes"] == 2
    np.testing.assert_array_equal(back.score(users), model.score(users))
    np.load(tmp_path / "m" / "state.npz", allow_pickle=False)


def test_processes_is_checked_like_any_parameter(board):
    with pytest.raises(InvalidParameterError, match=re.escape(
            "The 'processes' parameter of SASRec must be an int in [1, inf). Got 0 instead.")):
        create("sasrec", processes=0).fit(board)
