"""The engine's impression log, joined with the feedback that followed, as an ``ope.BanditLog``.

Each exploration slot the serving path filled (``source == "explore"``: the item the category
bandit drew, its ``propensity`` and ``arm``) is one logged decision; the other positions are
deterministic (propensity 1 or none) and give off-policy evaluation nothing to reweight. For
the list with recommendation id R shown to shopper u at time t, with item i in the slot:

- **click** = u sent any event on i whose ``context.recommendation_id`` is R (the shop front
  echoes the id it got with the list);
- **purchase** = u bought i within ``purchase_window_s`` after t, with or without the id
  (checkouts seldom carry it).

The engine does not log which arms were offered, so every arm is treated as offered (K =
the catalogue's categories at ``depth`` levels, the serving bandit's arms, plus any arm name
in the log). Features of (shopper, arm): the arm one-hot, the shopper's share of events in the
arm before the first logged list, the slot's position / 10 and log(1 + item popularity) / 10.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shelfwise.data.schemas import context_dict
from shelfwise.experiments.ope import BanditLog
from shelfwise.ranking.catalogue import category_codes


def read_exploration_log(store, *, depth: int = 1, purchase_window_s: float = 86400.0,
                         since: float | None = None) -> BanditLog:
    """The exploration slots logged since ``since`` (all when None) with their feedback."""
    if purchase_window_s < 0:
        raise ValueError(f"purchase_window_s must be >= 0. Got {purchase_window_s} instead.")
    imp = store.impressions(since=since)
    shown = imp[(imp["source"] == "explore") & imp["propensity"].notna() & imp["arm"].notna()
                & (imp["propensity"] > 0)].reset_index(drop=True)
    items = store.items()
    codes, names = category_codes(items, len(items), depth=depth)
    arms = sorted(set(map(str, names)) | set(shown["arm"].astype(str)))
    arm_code = {a: k for k, a in enumerate(arms)}
    item_arm = dict(zip(items["item_id"].astype(str), [str(names[c]) if c >= 0 else None for c in codes],
                        strict=True)) if len(items) else {}
    events = store.snapshot()
    users = pd.Index(sorted(set(shown["user_id"].astype(str))))

    # history shares per arm, from events before the first logged list
    first = float(shown["created_at"].min()) if len(shown) else np.inf
    before = events[events["timestamp"] < first]
    share = np.zeros((len(users), len(arms)))
    u = users.get_indexer(before["user_id"].astype(str))
    a = before["item_id"].astype(str).map(item_arm).map(arm_code)
    ok = (u >= 0) & a.notna().to_numpy()
    np.add.at(share, (u[ok], a[ok].astype(int).to_numpy()), 1.0)
    share /= np.maximum(share.sum(1, keepdims=True), 1.0)
    popularity = events["item_id"].astype(str).value_counts()

    rid = events["context"].map(lambda c: context_dict(c).get("recommendation_id"))
    tagged = set(zip(rid.astype(str), events["user_id"].astype(str), events["item_id"].astype(str), strict=True))
    buys = events[events["event_type"] == "purchase"].groupby(["user_id", "item_id"])["timestamp"].apply(np.sort)

    n, k = len(shown), len(arms)
    click = np.array([(r, us, it) in tagged for r, us, it in
                      zip(shown["recommendation_id"], shown["user_id"], shown["item_id"], strict=True)], float)
    purchase = np.zeros(n)
    for j, (us, it, t) in enumerate(zip(shown["user_id"], shown["item_id"], shown["created_at"], strict=True)):
        times = buys.get((us, it))
        if times is not None:
            purchase[j] = float(np.any((times >= t) & (times <= t + purchase_window_s)))
    row_user = users.get_indexer(shown["user_id"].astype(str))
    pop = np.log1p(shown["item_id"].astype(str).map(popularity).fillna(0).to_numpy(float)) / 10.0
    feats = np.zeros((n, k, k + 3), dtype=np.float32)
    feats[:, :, :k] = np.eye(k)
    feats[:, :, k] = share[row_user] if n else 0.0
    feats[:, :, k + 1] = shown["position"].to_numpy(float)[:, None] / 10.0
    feats[:, :, k + 2] = pop[:, None]
    return BanditLog(users=row_user.astype(np.int64),
                     actions=shown["arm"].astype(str).map(arm_code).to_numpy(np.int64),
                     propensities=shown["propensity"].to_numpy(np.float64),
                     rewards={"click": click, "purchase": purchase}, features=feats,
                     allowed=np.ones((n, k), bool), action_names=tuple(arms))
