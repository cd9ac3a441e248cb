"""The hybrid's validation hold-out: which event of each shopper the ranker learns to find
(step 1 of the protocol in ``shelfwise.ranking.hybrid``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shelfwise.data.interactions import TYPE_CODES, Interactions
from shelfwise.ranking.features import Histories


def holdout(view: Interactions, exclude_types: tuple[str, ...] | None = ("purchase",)
            ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(stage-1 events, validation users (V,), their held-out items (V,)): see step 1 above.

    A target is an event the exclusion policy would still let the ranker show: no earlier
    event of the shopper on the item has a type in ``exclude_types``. With
    ``exclude_types=None`` (everything seen excluded) it is the shopper's first event on the
    item they touched last, of any type: the last *new* item. The stage-1 events are a frame (user_id, item_id,
    event_type, timestamp) of the view's events with each target and everything after it in
    time removed."""
    h = Histories.of(view)
    user = h.user_of_event
    pos = np.arange(len(h.items))
    buy = h.types == TYPE_CODES["purchase"]
    # excluding everything seen, the target is the last item the shopper first touched (as
    # leave-one-out by item holds out): a purchase is almost always of an item seen before
    eligible = buy.copy() if buy.any() and exclude_types is not None else np.ones(len(pos), dtype=bool)
    eligible &= pos > h.indptr[:-1][user]  # the shopper has an earlier event
    blocking = (np.ones(len(pos), dtype=bool) if exclude_types is None
                else np.isin(h.types, [TYPE_CODES[t] for t in exclude_types]))
    key = user.astype(np.int64) * view.n_items + h.items
    first_block = pd.Series(pos[blocking]).groupby(key[blocking]).min()
    first = first_block.reindex(key).to_numpy()
    eligible &= ~(first < pos)  # NaN (never blocked) compares False
    last = np.full(view.n_users, -1)
    np.maximum.at(last, user[eligible], pos[eligible])
    users = np.flatnonzero(last >= 0)
    target_pos = last[users]
    t_time = np.full(view.n_users, np.inf)
    t_time[users] = h.times[target_pos]
    drop = np.zeros(len(pos), dtype=bool)
    drop[target_pos] = True
    drop |= h.times > t_time[user]
    keep = ~drop
    events = pd.DataFrame({"user_id": view.user_ids[user[keep]], "item_id": view.item_ids[h.items[keep]],
                           "event_type": np.asarray(list(TYPE_CODES))[h.types[keep]],
                           "timestamp": h.times[keep]})
    return events, users, h.items[target_pos]
