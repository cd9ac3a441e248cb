"""The synthetic shop: shelfwise's embedded default dataset.

A seeded, deterministic generator of a plausible online shop:

- a catalogue with a category tree (department > category > product kind), brands, prices
  and readable titles; some departments sell consumables that get re-bought;
- shoppers with latent tastes (a mix of favourite categories) that drift over the horizon;
- sessions with a browsing intent; each viewed item may be favourited or carted, a cart may
  become a purchase or be removed, a purchase may get a review whose rating follows taste;
- long-tail item popularity (a log-normal item bias) and heavy-tailed shopper activity.

Everything is vectorised over sessions: a million events take seconds. ``ShopTruth`` exposes
the true utilities, so tests can check that a model learns more than chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shelfwise.data.schemas import derive_event_ids

TAXONOMY: dict[str, dict[str, list[str]]] = {
    "Beauty": {"Skin care": ["face cream", "serum", "cleanser", "toner"],
               "Make-up": ["lipstick", "mascara", "foundation", "eyeliner"],
               "Hair": ["shampoo", "conditioner", "hair oil", "hair mask"]},
    "Grocery": {"Coffee & tea": ["espresso beans", "green tea", "filter coffee", "chai"],
                "Pantry": ["olive oil", "pasta", "basmati rice", "granola"],
                "Snacks": ["dark chocolate", "almonds", "crackers", "energy bar"]},
    "Home": {"Kitchen": ["chef knife", "frying pan", "cutting board", "kettle"],
             "Decor": ["scented candle", "vase", "cushion", "wall clock"],
             "Cleaning": ["dish soap", "laundry pods", "microfibre cloth", "sponge"]},
    "Electronics": {"Audio": ["earbuds", "headphones", "speaker", "soundbar"],
                    "Computing": ["keyboard", "mouse", "usb hub", "laptop stand"],
                    "Phone": ["phone case", "charger", "power bank", "screen protector"]},
    "Toys": {"Building": ["brick set", "marble run", "magnetic tiles", "train set"],
             "Games": ["board game", "puzzle", "card game", "dice set"],
             "Outdoor": ["kite", "water gun", "frisbee", "scooter"]},
    "Sports": {"Fitness": ["yoga mat", "kettlebell", "resistance band", "foam roller"],
               "Running": ["running shoes", "sports socks", "running belt", "cap"],
               "Cycling": ["bike light", "helmet", "bike lock", "bottle cage"]},
}
CONSUMABLE = {"Beauty", "Grocery"}  # departments whose products are re-bought
CONSUMABLE_KINDS = {"Cleaning"}
ADJECTIVES = ["classic", "organic", "compact", "deluxe", "everyday", "premium", "eco", "mini",
              "pro", "gentle", "bold", "smart", "vintage", "fresh", "ultra", "soft"]
SYLLABLES = ["lu", "ma", "ko", "ri", "ze", "no", "va", "ti", "sa", "be", "xo", "mi", "ra", "do"]
BASE_PRICE = {"Beauty": 18.0, "Grocery": 7.0, "Home": 30.0, "Electronics": 60.0, "Toys": 25.0,
              "Sports": 35.0}


@dataclass(frozen=True)
class ShopTruth:
    """The generator's hidden state. Utility of item i for user u at time fraction f in
    [0, 1] of the horizon: ``(start[u] + f * drift[u]) . item_factors[i] + item_bias[i]``."""

    item_factors: np.ndarray  # (n_items, d)
    item_bias: np.ndarray  # (n_items,)
    user_start: np.ndarray  # (n_users, d)
    user_drift: np.ndarray  # (n_users, d)
    t_start: float
    t_end: float

    def utility(self, user_indices, fraction: float = 1.0) -> np.ndarray:
        """True utilities, shape (len(user_indices), n_items)."""
        u = np.asarray(user_indices)
        taste = self.user_start[u] + fraction * self.user_drift[u]
        return taste @ self.item_factors.T + self.item_bias


@dataclass
class SyntheticShop:
    events: pd.DataFrame  # canonical event frame, event ids derived
    items: pd.DataFrame
    users: pd.DataFrame
    truth: ShopTruth
    # user_ids[u] / item_ids[i] are the external ids of the truth's row u / i
    user_ids: np.ndarray
    item_ids: np.ndarray


def _catalogue(rng: np.random.Generator, n_items: int, dim: int):
    kinds = [(d, c, k) for d, cats in TAXONOMY.items() for c, ks in cats.items() for k in ks]
    cats = sorted({(d, c) for d, c, _ in kinds})
    n_kinds = len(kinds)
    # a category centroid plus a smaller product-kind offset: nearby kinds share taste
    cat_vec = {dc: rng.normal(0, 1, dim) for dc in cats}
    kind_vec = np.stack([cat_vec[(d, c)] + 0.5 * rng.normal(0, 1, dim) for d, c, _ in kinds])
    kind_of = np.sort(rng.integers(0, n_kinds, n_items))  # items grouped by kind
    brands = {d: ["".join(rng.choice(SYLLABLES, 2)).capitalize() + rng.choice(["", "ia", "o", "ex"])
                  for _ in range(6)] for d in TAXONOMY}
    factors = (kind_vec[kind_of] + 0.6 * rng.normal(0, 1, (n_items, dim))) / np.sqrt(dim)
    bias = rng.normal(0.0, 1.0, n_items)  # log-normal popularity: a long tail
    rows = []
    for i in range(n_items):
        dept, cat, kind = kinds[kind_of[i]]
        brand = brands[dept][min(int(rng.zipf(1.6)) - 1, 5)]
        adj = ADJECTIVES[int(rng.integers(len(ADJECTIVES)))]
        price = round(float(BASE_PRICE[dept] * rng.lognormal(0, 0.5)), 2)
        rows.append({
            "item_id": f"P{i:06d}", "title": f"{brand} {adj} {kind}",
            "description": f"A {adj} {kind} by {brand}, from our {cat.lower()} range.",
            "category": [dept, cat, kind], "brand": brand, "price": price,
            "attributes": {"consumable": dept in CONSUMABLE or cat in CONSUMABLE_KINDS},
            "in_stock": bool(rng.random() > 0.03),
        })
    items = pd.DataFrame(rows)
    return items, factors, bias, kind_of, kind_vec / np.sqrt(dim)


def generate_shop(n_users: int = 2000, n_items: int = 1000, sessions_per_user: float = 6.0,
                  days: int = 180, dim: int = 16, seed: int = 0,
                  start: str = "2026-01-01", taste_groups: int | None = None) -> SyntheticShop:
    """Generate a shop. Expect about ``n_users * sessions_per_user * 4`` events.

    ``taste_groups`` G (1 to 6) plants G groups of shoppers: shopper u belongs to group
    u mod G, whose favourite product kinds and drifting interest all lie in department g (the
    g-th of ``TAXONOMY``), so a segmentation has G groups to find; the group of each shopper
    is ``users["attributes"]["taste_group"]``. None (the default) leaves the generator's
    draws exactly as they are without it."""
    if n_users < 1 or n_items < 1:
        raise ValueError("n_users and n_items must be >= 1")
    rng = np.random.default_rng(seed)
    items, factors, bias, kind_of, kind_vec = _catalogue(rng, n_items, dim)
    n_kinds = len(kind_vec)
    kind_start = np.searchsorted(kind_of, np.arange(n_kinds))
    kind_size = np.bincount(kind_of, minlength=n_kinds)
    t0 = pd.Timestamp(start, tz="UTC").timestamp()
    horizon = days * 86400.0

    # -- shoppers: 1-3 favourite product kinds, drifting towards a new one ----------------
    n_fav = rng.integers(1, 4, n_users)
    fav = rng.integers(0, n_kinds, (n_users, 3))
    mask = np.arange(3)[None, :] < n_fav[:, None]
    user_start = (kind_vec[fav] * mask[..., None]).sum(1) / n_fav[:, None] * 3.0
    user_start += 0.3 * rng.normal(0, 1, (n_users, dim)) / np.sqrt(dim)
    new_interest = kind_vec[rng.integers(0, n_kinds, n_users)] * 3.0
    if taste_groups is not None:
        if not 1 <= taste_groups <= len(TAXONOMY):
            raise ValueError(f"taste_groups must be in [1, {len(TAXONOMY)}], got {taste_groups!r}")
        # a separate stream: the shop's own draws stay those of the ungrouped shop
        planted = np.random.default_rng([seed, 7919])
        per_dept = n_kinds // len(TAXONOMY)  # kinds are listed department by department
        group = np.arange(n_users) % taste_groups
        fav = group[:, None] * per_dept + planted.integers(0, per_dept, (n_users, 3))
        user_start = (kind_vec[fav] * mask[..., None]).sum(1) / n_fav[:, None] * 3.0
        user_start += 0.3 * planted.normal(0, 1, (n_users, dim)) / np.sqrt(dim)
        new_interest = kind_vec[group * per_dept + planted.integers(0, per_dept, n_users)] * 3.0
    user_drift = 0.5 * (new_interest - user_start)
    truth = ShopTruth(factors, bias, user_start, user_drift, t0, t0 + horizon)

    # -- sessions: heavy-tailed activity per shopper ------------------------------------
    activity = rng.lognormal(0, 0.8, n_users)
    n_sess = rng.poisson(sessions_per_user * activity / activity.mean()) + 1
    s_user = np.repeat(np.arange(n_users), n_sess)
    S = len(s_user)
    s_frac = rng.random(S)
    s_time = t0 + s_frac * horizon
    taste = user_start[s_user] + s_frac[:, None] * user_drift[s_user]  # (S, d)
    # browsing intent: a product kind drawn by taste (Gumbel-max over kinds)
    kind_logits = 2.0 * taste @ kind_vec.T
    intent = np.argmax(kind_logits + rng.gumbel(size=kind_logits.shape), axis=1)
    n_views = np.minimum(1 + rng.geometric(0.35, S), 12)

    # candidates: half from the intent's kind, half from the whole shop by popularity
    C = 24
    in_kind = kind_start[intent][:, None] + (
        rng.random((S, C // 2)) * kind_size[intent][:, None]).astype(np.int64)
    # a small catalogue can leave the last kinds empty: their start is n_items, one past the end
    in_kind = np.minimum(in_kind, n_items - 1)
    pop_cdf = np.cumsum(np.exp(bias))
    pop_cdf /= pop_cdf[-1]
    anywhere = np.searchsorted(pop_cdf, rng.random((S, C // 2)))
    cand = np.concatenate([in_kind, np.minimum(anywhere, n_items - 1)], axis=1)
    util = np.einsum("sd,scd->sc", taste, factors[cand]) * 3.0 + bias[cand]
    order = np.argsort(-(util + rng.gumbel(size=util.shape)), axis=1)
    rank = np.arange(C)[None, :]
    chosen = np.take_along_axis(cand, order, 1)
    chosen_u = np.take_along_axis(util, order, 1)
    keep = rank < n_views[:, None]
    # drop repeats of an item inside a session (it would be one longer view)
    keep &= ~_dupes(chosen, keep)

    v_sess, v_rank = np.nonzero(keep)
    v_item = chosen[v_sess, v_rank]
    v_util = chosen_u[v_sess, v_rank]
    affinity = 1.0 / (1.0 + np.exp(-(v_util - 1.5)))  # in (0, 1)
    gaps = rng.exponential(45.0, len(v_sess))
    v_time = s_time[v_sess] + np.cumsum(gaps) - _group_cumsum_start(v_sess, gaps)
    dwell_ms = np.round(rng.lognormal(9.5, 0.6, len(v_sess)) * (0.5 + affinity))

    ev = [_frame(s_user[v_sess], v_item, "view", v_time, v_sess, dwell_ms)]
    fav_m = rng.random(len(v_sess)) < 0.06 * affinity
    ev.append(_frame(s_user[v_sess[fav_m]], v_item[fav_m], "favorite", v_time[fav_m] + 5,
                     v_sess[fav_m], np.nan))
    cart_m = rng.random(len(v_sess)) < 0.14 * affinity
    c_sess, c_item, c_aff = v_sess[cart_m], v_item[cart_m], affinity[cart_m]
    c_time = v_time[cart_m] + 10
    price = items["price"].to_numpy()
    ev.append(_frame(s_user[c_sess], c_item, "cart", c_time, c_sess, 1.0))
    buy_m = rng.random(len(c_sess)) < 0.35 + 0.3 * c_aff
    remove_m = ~buy_m & (rng.random(len(c_sess)) < 0.3)
    ev.append(_frame(s_user[c_sess[remove_m]], c_item[remove_m], "remove_from_cart",
                     c_time[remove_m] + 30, c_sess[remove_m], 1.0))
    b_sess, b_item, b_aff = c_sess[buy_m], c_item[buy_m], c_aff[buy_m]
    b_time = s_time[b_sess] + 3600.0  # checkout closes the session
    # nobody buys the same kettle twice: only the first purchase of a durable stays
    consumable = items["attributes"].map(lambda a: a["consumable"]).to_numpy()
    first = np.argsort(b_time, kind="stable")
    key = s_user[b_sess][first].astype(np.int64) * n_items + b_item[first]
    again = np.zeros(len(first), bool)
    again[first] = pd.Series(key).duplicated().to_numpy() & ~consumable[b_item[first]]
    b_sess, b_item, b_aff, b_time = b_sess[~again], b_item[~again], b_aff[~again], b_time[~again]
    ev.append(_frame(s_user[b_sess], b_item, "purchase", b_time, b_sess, price[b_item]))
    rev_m = rng.random(len(b_sess)) < 0.15
    rating = np.clip(np.round(1 + 4 * b_aff[rev_m] + rng.normal(0, 0.7, rev_m.sum())), 1, 5)
    ev.append(_frame(s_user[b_sess[rev_m]], b_item[rev_m], "review",
                     b_time[rev_m] + rng.uniform(2, 20, rev_m.sum()) * 86400, b_sess[rev_m],
                     rating))

    # -- repeat purchases of consumables, two generations --------------------------------
    r_user, r_item, r_time, next_sess = s_user[b_sess], b_item, b_time, S
    for _ in range(2):
        again = consumable[r_item] & (rng.random(len(r_item)) < 0.45)
        r_user, r_item = r_user[again], r_item[again]
        r_time = r_time[again] + rng.gamma(4.0, 7.0, again.sum()) * 86400
        inside = r_time < t0 + horizon
        r_user, r_item, r_time = r_user[inside], r_item[inside], r_time[inside]
        r_sess = next_sess + np.arange(len(r_user))
        next_sess += len(r_user)
        ev.append(_frame(r_user, r_item, "view", r_time, r_sess, np.nan))
        ev.append(_frame(r_user, r_item, "cart", r_time + 20, r_sess, 1.0))
        ev.append(_frame(r_user, r_item, "purchase", r_time + 600, r_sess, price[r_item]))

    events = pd.concat(ev, ignore_index=True)
    events = events[events["timestamp"] < t0 + horizon + 30 * 86400]  # reviews may trail
    events = events.sort_values(["timestamp", "user_id"], kind="stable").reset_index(drop=True)
    user_ids = np.array([f"U{u:06d}" for u in range(n_users)], dtype=object)
    item_ids = items["item_id"].to_numpy(dtype=object)
    events["user_id"] = user_ids[events["user_id"].to_numpy()]
    events["item_id"] = item_ids[events["item_id"].to_numpy()]
    events["session_id"] = "S" + events["session_id"].astype(str)
    events["timestamp"] = events["timestamp"].round(3)
    events["context"] = None
    events.insert(0, "event_id", derive_event_ids(events))
    users = pd.DataFrame({
        "user_id": user_ids,
        "attributes": [{"region": r, "age_band": a} for r, a in zip(
            rng.choice(["north", "south", "east", "west"], n_users),
            rng.choice(["18-24", "25-34", "35-44", "45-54", "55+"], n_users), strict=True)],
        "consent": rng.random(n_users) > 0.03,
    })
    if taste_groups is not None:
        users["attributes"] = [{**a, "taste_group": int(u % taste_groups)}
                               for u, a in enumerate(users["attributes"])]
    return SyntheticShop(events=events, items=items, users=users, truth=truth,
                         user_ids=user_ids, item_ids=item_ids)


def _frame(user, item, kind, time, sess, value) -> pd.DataFrame:
    return pd.DataFrame({"user_id": user, "item_id": item, "event_type": kind,
                         "timestamp": time, "session_id": sess,
                         "value": np.broadcast_to(np.asarray(value, dtype=np.float64),
                                                  np.shape(user)).copy()})


def _dupes(chosen: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """True where a kept candidate repeats an earlier kept one in the same row."""
    c = np.where(keep, chosen, -1 - np.arange(chosen.shape[1])[None, :])
    order = np.argsort(c, axis=1, kind="stable")
    s = np.take_along_axis(c, order, 1)
    repeat_sorted = np.zeros_like(keep)
    repeat_sorted[:, 1:] = s[:, 1:] == s[:, :-1]
    out = np.zeros_like(keep)
    np.put_along_axis(out, order, repeat_sorted, 1)
    return out & keep


def _group_cumsum_start(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For sorted ``groups``, the running total of ``values`` before each group starts."""
    total = np.cumsum(values)
    first = np.r_[True, groups[1:] != groups[:-1]]
    start_total = (total - values)[first]
    return np.repeat(start_total, np.diff(np.r_[np.flatnonzero(first), len(groups)]))
