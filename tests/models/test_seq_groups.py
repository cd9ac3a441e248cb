"""Item groups learnt from co-occurrence (``models.seq_groups``): known partitions."""

import numpy as np
import scipy.sparse as sp

from shelfwise.models import create
from shelfwise.models.seq_groups import cooccurrence_groups


def _communities(n_blocks: int, items_per_block: int, users_per_block: int = 30, seed: int = 0):
    """(users x items) 0/1 matrix: each user touches 4 random items of its own block only."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for b in range(n_blocks):
        for u in range(users_per_block):
            picked = rng.choice(items_per_block, 4, replace=False) + b * items_per_block
            rows += [b * users_per_block + u] * 4
            cols += picked.tolist()
    shape = (n_blocks * users_per_block, n_blocks * items_per_block)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=shape)


def test_groups_are_the_communities_that_buy_together():
    X = _communities(n_blocks=4, items_per_block=10)
    groups = cooccurrence_groups(X, sizes=(10,), dim=8)
    assert groups.shape == (40, 1)
    block = np.arange(40) // 10
    # one group per block, whatever the numbering: the two partitions are the same
    pairs = set(zip(block.tolist(), groups[:, 0].tolist(), strict=True))
    assert len(pairs) == 4 and len({g for _, g in pairs}) == 4
    assert groups.min() == 1


def test_levels_get_distinct_ids_and_a_level_of_one_group_is_left_out():
    X = _communities(n_blocks=4, items_per_block=10)
    X = sp.hstack([X, sp.csr_matrix((X.shape[0], 2))]).tocsr()  # two items nobody touched
    groups = cooccurrence_groups(X, sizes=(20, 10, 100), dim=8)
    assert groups.shape == (42, 2)  # 40 // 100 = 0 groups: that level is gone
    assert set(groups[:40, 0]) == {1, 2} and set(groups[:40, 1]) == {3, 4, 5, 6}
    assert (groups[40:] == 0).all()  # untouched items are in no group


def test_sasrec_feeds_the_groups_after_the_catalogues_attributes():
    from tests.models.test_sequential import N_ITEMS, cycle_view

    view = cycle_view(lambda i: ["shop", "even" if i % 2 == 0 else "odd"])
    table, n = create("sasrec")._attributes(view)
    # one catalogue attribute column (ids 1-2), then one group level of 20 // 10 = 2 groups
    assert table.shape == (N_ITEMS + 2, 2) and n == 4
    assert set(table[1:-1, 0]) == {1, 2} and set(table[1:-1, 1]) == {3, 4}
    assert (table[0] == 0).all() and (table[-1] == 0).all()  # padding and mask rows


def test_the_groups_are_worked_out_once_per_data_set(monkeypatch):
    # a tuner fits many models on one Interactions: they share one grouping
    import shelfwise.models.seq_groups as seq_groups
    from tests.models.test_sequential import cycle_view

    calls = []
    real = seq_groups.cooccurrence_groups
    monkeypatch.setattr(seq_groups, "cooccurrence_groups",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    view = cycle_view(lambda i: ["shop"])
    first = create("sasrec", dim=16)._attributes(view)
    again = create("sasrec", dim=32, lr=1e-3)._attributes(view)
    assert len(calls) == 1 and (first[0] == again[0]).all()
    create("sasrec", seed=1)._attributes(view)  # another seed is another grouping
    assert len(calls) == 2
