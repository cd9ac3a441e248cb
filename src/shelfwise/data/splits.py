"""Train / validation / test splits of a canonical event frame.

Every split returns frames, not Interactions: build the training view from ``train`` and
score ``test`` in its index space (``shelfwise.evaluation.harness.truth_from``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    test: pd.DataFrame
    validation: pd.DataFrame | None = None


def _chronological(events: pd.DataFrame) -> pd.DataFrame:
    ev = events[events["item_id"].notna()].reset_index(drop=True)
    # stable: ties in time keep arrival order, as Interactions does
    return ev.iloc[np.lexsort((np.arange(len(ev)), ev["timestamp"].to_numpy()))]


def leave_one_out(events: pd.DataFrame, validation: bool = False,
                  min_history: int = 1, by: str = "event") -> Split:
    """Each user's last event is the test target; with ``validation`` the second-to-last is
    the validation target (and not in train). Users with fewer than ``min_history`` + 1 (+1)
    events stay wholly in train.

    ``by="item"`` holds out the last *new* item instead: the item whose first touch is the
    user's latest, with all of that user's events on it. Use it for shop logs, where the
    last event is often a purchase of an item already viewed (which a model excluding seen
    items can never recommend).
    """
    if by == "item":
        return _leave_last_item_out(events, validation, min_history)
    if by != "event":
        raise ValueError(f"by must be 'event' or 'item'. Got {by!r} instead.")
    ev = _chronological(events)
    from_end = ev.groupby("user_id", sort=False).cumcount(ascending=False).to_numpy()
    size = ev.groupby("user_id", sort=False)["item_id"].transform("size").to_numpy()
    held = 2 if validation else 1
    eligible = size >= min_history + held
    test = eligible & (from_end == 0)
    valid = eligible & (from_end == 1) if validation else np.zeros(len(ev), bool)
    return Split(train=ev[~test & ~valid], test=ev[test],
                 validation=ev[valid] if validation else None)


def _leave_last_item_out(events: pd.DataFrame, validation: bool, min_history: int) -> Split:
    ev = _chronological(events)
    firsts = ev.drop_duplicates(["user_id", "item_id"])
    from_end = firsts.groupby("user_id", sort=False).cumcount(ascending=False)
    size = firsts.groupby("user_id", sort=False)["item_id"].transform("size")
    held = 2 if validation else 1
    eligible = size >= min_history + held
    pairs = pd.MultiIndex.from_frame(ev[["user_id", "item_id"]])
    test_pairs = pd.MultiIndex.from_frame(firsts[eligible & (from_end == 0)][["user_id", "item_id"]])
    is_test = pairs.isin(test_pairs)
    is_valid = np.zeros(len(ev), bool)
    valid = None
    if validation:
        vp = firsts[eligible & (from_end == 1)][["user_id", "item_id"]]
        is_valid = pairs.isin(pd.MultiIndex.from_frame(vp))
        valid = ev[is_valid].drop_duplicates(["user_id", "item_id"])
    return Split(train=ev[~is_test & ~is_valid],
                 test=ev[is_test].drop_duplicates(["user_id", "item_id"]), validation=valid)


def temporal_split(events: pd.DataFrame, test_fraction: float = 0.2,
                   cutoff: float | None = None) -> Split:
    """Everything before a global time cut-off is train, the rest test. The cut-off is the
    ``1 - test_fraction`` quantile of event times unless given (unix seconds)."""
    ev = _chronological(events)
    if cutoff is None:
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1). Got {test_fraction} instead.")
        cutoff = float(np.quantile(ev["timestamp"], 1 - test_fraction))
    late = ev["timestamp"].to_numpy() > cutoff
    return Split(train=ev[~late], test=ev[late])


def random_holdout(events: pd.DataFrame, test_fraction: float = 0.2, seed: int = 0) -> Split:
    """A random ``test_fraction`` of each user's (user, item) pairs goes to test: all events
    of a held-out pair leave train, so the model cannot see the answer."""
    ev = _chronological(events)
    pairs = ev[["user_id", "item_id"]].drop_duplicates()
    rng = np.random.default_rng(seed)
    chosen = pairs[rng.random(len(pairs)) < test_fraction]
    key = pd.MultiIndex.from_frame(ev[["user_id", "item_id"]])
    held = key.isin(pd.MultiIndex.from_frame(chosen))
    return Split(train=ev[~held], test=ev[held].drop_duplicates(["user_id", "item_id"]))
