"""Long-tail calibrated re-ranking (``ranking.calibration``) with known answers, and as the
serving path applies it (``long_tail_share``)."""

from __future__ import annotations

import numpy as np
import pytest

from shelfwise.config import Settings
from shelfwise.engine import Engine
from shelfwise.ranking.calibration import long_tail_mask, long_tail_rerank


def test_long_tail_mask_by_hand():
    # 10 items: the head is the 2 most popular (items 7 and 3)
    pop = np.array([5, 9, 0, 30, 1, 2, 2, 40, 0, 3])
    assert np.flatnonzero(~long_tail_mask(pop)).tolist() == [3, 7]
    assert np.flatnonzero(~long_tail_mask(np.array([1, 1, 1, 1, 1]), 0.2)).tolist() == [0]  # ties: lower index


def test_rerank_swaps_the_lowest_head_items_for_the_best_tail_items():
    tail = np.array([False, False, True, False, True, True, False])
    items = np.array([0, 1, 2, 3, 4, 5, 6])
    scores = np.array([7.0, 6, 5, 4, 3, 2, 1])
    out, sc = long_tail_rerank(items, scores, n=4, tail=tail, share=0.5)
    # top 4 = 0 1 2 3 holds one tail item (2); it needs 2: item 4 comes in, head item 3 goes out
    assert out.tolist() == [0, 1, 2, 4, 3, 5, 6] and sc.tolist() == [7, 6, 5, 3, 4, 2, 1]
    out, _ = long_tail_rerank(items, scores, n=4, tail=tail, share=1.0)
    assert out[:4].tolist() == [0, 2, 4, 5]  # only three tail items in the pool: all of them, and the best head
    assert long_tail_rerank(items, scores, n=4, tail=tail, share=0.25)[0].tolist() == items.tolist()  # met already
    assert long_tail_rerank(items, scores, n=4, tail=tail, share=0.0)[0].tolist() == items.tolist()
    with pytest.raises(ValueError, match="share"):
        long_tail_rerank(items, scores, 4, tail, 1.5)


def test_the_serving_path_takes_the_share_from_the_long_tail(tmp_path, small_shop):
    plain = Engine(Settings(home=tmp_path, impressions={"enabled": False}))
    plain.ingest(small_shop.events)
    plain.train(["itemknn"])
    tailed = Engine(Settings(home=tmp_path, impressions={"enabled": False}, long_tail_share=0.5))
    users = small_shop.events["user_id"].drop_duplicates().head(30).tolist()
    _, view, _ = plain.pipeline.source.load("itemknn")
    tail = long_tail_mask(np.diff(view.matrix.tocsc().indptr))
    for user in users:
        before = plain.recommend(user, 10, model="itemknn")
        after = tailed.recommend(user, 10, model="itemknn")
        idx = lambda served: view.items_to_indices([r.item_id for r in served])  # noqa: E731
        n_tail = int(tail[idx(after)].sum())
        assert n_tail >= 5 and len(after) == 10
        kept = [r.item_id for r in before if not tail[view.item_index[r.item_id]]]
        # head items that stay keep their order; those that go are the lowest-ranked ones
        stayed = [i for i in kept if i in {r.item_id for r in after}]
        assert stayed == kept[:len(stayed)]
    plain.close()
    tailed.close()
