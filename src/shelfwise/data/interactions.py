"""Interactions: the one immutable training view every model fits on.

External ids (strings) are mapped to dense indices here and only here. The view holds

- ``matrix``: csr_matrix (n_users, n_items) float32 of summed behaviour weights;
- per-user chronological sequences in CSR layout (``seq_indptr`` (n_users + 1,),
  ``seq_items``, ``seq_types``, ``seq_times`` (n_events,)), oldest event first;
- ``items``: the catalogue frame in item-index order (one row per item, metadata may be NA).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shelfwise.data.schemas import DEFAULT_BEHAVIOUR_WEIGHTS, EVENT_TYPES

TYPE_CODES = {t: i for i, t in enumerate(EVENT_TYPES)}


@dataclass(frozen=True, eq=False)
class Interactions:
    user_ids: np.ndarray  # (n_users,) object: external ids in index order
    item_ids: np.ndarray  # (n_items,) object
    matrix: sp.csr_matrix  # (n_users, n_items) float32 summed behaviour weights
    seq_indptr: np.ndarray  # (n_users + 1,) int64
    seq_items: np.ndarray  # (n_events,) int32 item index per event
    seq_types: np.ndarray  # (n_events,) int8 code into EVENT_TYPES
    seq_times: np.ndarray  # (n_events,) float64 unix seconds
    seq_sessions: np.ndarray | None = None  # (n_events,) int64 session code, -1 for none
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_BEHAVIOUR_WEIGHTS))
    items: pd.DataFrame | None = None  # catalogue, indexed 0..n_items-1

    def __post_init__(self):
        for arr in (self.user_ids, self.item_ids, self.seq_indptr, self.seq_items,
                    self.seq_types, self.seq_times, self.seq_sessions):
            if arr is not None:
                arr.setflags(write=False)

    # -- shape and id maps ---------------------------------------------------------
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_events(self) -> int:
        return len(self.seq_items)

    @property
    def user_index(self) -> dict[str, int]:
        return self._index("user")

    @property
    def item_index(self) -> dict[str, int]:
        return self._index("item")

    def _index(self, kind: str) -> dict[str, int]:
        cache = self.__dict__.setdefault("_cache", {})
        if kind not in cache:
            ids = self.user_ids if kind == "user" else self.item_ids
            cache[kind] = {k: i for i, k in enumerate(ids.tolist())}
        return cache[kind]

    def users_to_indices(self, user_ids, missing: int = -1) -> np.ndarray:
        idx = self.user_index
        return np.array([idx.get(str(u), missing) for u in user_ids], dtype=np.int64)

    def items_to_indices(self, item_ids, missing: int = -1) -> np.ndarray:
        idx = self.item_index
        return np.array([idx.get(str(i), missing) for i in item_ids], dtype=np.int64)

    def sequence(self, user: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(items, type codes, times) of one user's events, oldest first."""
        a, b = self.seq_indptr[user], self.seq_indptr[user + 1]
        return self.seq_items[a:b], self.seq_types[a:b], self.seq_times[a:b]

    def item_popularity(self) -> np.ndarray:
        """(n_items,) number of distinct users who interacted with each item."""
        return np.diff(self.matrix.tocsc().indptr).astype(np.int64)

    def derived(self, key, compute):
        """``compute()``, worked out once per (immutable) Interactions and ``key``: a value
        that several fits of the same data need, such as a tuner's trials each deriving the
        sequence models' co-occurrence item groups."""
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    @property
    def binary(self) -> sp.csr_matrix:
        """(n_users, n_items) float32 0/1 matrix of who touched what."""
        cache = self.__dict__.setdefault("_cache", {})
        if "binary" not in cache:
            m = self.matrix.copy()
            m.data = np.ones_like(m.data)
            cache["binary"] = m
        return cache["binary"]

    def without_users(self, user_indices, keep_rows: bool = True) -> Interactions:
        """The view with the shoppers ``user_indices`` and all their events taken out.

        keep_rows=True: the same index spaces (ids and item order unchanged), their matrix
        rows and sequences emptied, for rewriting a kept version in place. keep_rows=False:
        their rows removed too (n_users shrinks), the view a fit without them would read,
        for item-side statistics that count shoppers (BM25's idf, for example)."""
        users = np.unique(np.asarray(user_indices, dtype=np.int64))
        gone = np.zeros(self.n_users, dtype=bool)
        gone[users] = True
        lengths = np.diff(self.seq_indptr)
        keep_event = ~np.repeat(gone, lengths)
        if keep_rows:
            lengths = np.where(gone, 0, lengths)
            user_ids = self.user_ids
            rows = sp.diags((~gone).astype(np.float32))  # zeroes their rows
            matrix = (rows @ self.matrix).tocsr()
        else:
            lengths, user_ids = lengths[~gone], self.user_ids[~gone]
            matrix = self.matrix[np.flatnonzero(~gone)]
        matrix.eliminate_zeros()
        matrix = matrix.astype(np.float32)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        sessions = None if self.seq_sessions is None else self.seq_sessions[keep_event]
        return Interactions(user_ids=user_ids.copy(), item_ids=self.item_ids, matrix=matrix, seq_indptr=indptr,
                            seq_items=self.seq_items[keep_event], seq_types=self.seq_types[keep_event],
                            seq_times=self.seq_times[keep_event], seq_sessions=sessions,
                            weights=dict(self.weights), items=self.items)

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_events(cls, events: pd.DataFrame, items: pd.DataFrame | None = None,
                    weights: dict[str, float] | None = None,
                    user_ids=None, item_ids=None) -> Interactions:
        """Build from a canonical event frame (user_id, item_id, event_type, timestamp, value).

        ``user_ids`` / ``item_ids`` fix the index spaces (e.g. to score a test split in the
        same spaces as training); ids not in them are dropped. Otherwise users are indexed
        in order of first appearance, items likewise followed by catalogue-only items, so
        items nobody has touched yet still get an index.
        """
        w = dict(DEFAULT_BEHAVIOUR_WEIGHTS if weights is None else weights)
        unknown = set(w) - set(EVENT_TYPES)
        if unknown:
            raise ValueError(f"Unknown behaviour(s) in weights: {sorted(unknown)}")
        ev = events[events["item_id"].notna()] if len(events) else events
        ev = ev.reset_index(drop=True)
        if user_ids is None:
            user_ids = pd.unique(ev["user_id"].astype(str))
        if item_ids is None:
            item_ids = pd.unique(ev["item_id"].astype(str))
            if items is not None and len(items):
                extra = pd.Index(items["item_id"].astype(str)).difference(pd.Index(item_ids),
                                                                         sort=False)
                item_ids = np.concatenate([item_ids, np.asarray(extra, dtype=object)])
        user_ids = np.asarray(user_ids, dtype=object)
        item_ids = np.asarray(item_ids, dtype=object)
        u = pd.Index(user_ids).get_indexer(ev["user_id"].astype(str))
        i = pd.Index(item_ids).get_indexer(ev["item_id"].astype(str))
        keep = (u >= 0) & (i >= 0)
        ev, u, i = ev[keep], u[keep], i[keep]
        types = ev["event_type"].astype(str).to_numpy()
        t = ev["timestamp"].to_numpy(dtype=np.float64)
        wt = pd.Series(types).map(lambda x: w.get(x, 0.0)).to_numpy(np.float32)
        if "value" in ev and "review" in w:
            # A review counts by its rating when one is given.
            rating = ev["value"].to_numpy(dtype=np.float64)
            is_rated = (types == "review") & np.isfinite(rating)
            wt[is_rated] = rating[is_rated].astype(np.float32)
        if "weight" in ev:  # per-event multiplier, e.g. from dwell-time weighting
            wt *= ev["weight"].fillna(1.0).to_numpy(np.float32)
        pos = wt > 0
        matrix = sp.csr_matrix((wt[pos], (u[pos], i[pos])),
                               shape=(len(user_ids), len(item_ids)), dtype=np.float32)
        matrix.sum_duplicates()
        # stable sort: events of one user in time order, ties kept in arrival order
        order = np.lexsort((np.arange(len(u)), t, u))
        counts = np.bincount(u, minlength=len(user_ids))
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        codes = pd.Series(types).map(TYPE_CODES).to_numpy(np.int8)
        sessions = None
        if "session_id" in ev and ev["session_id"].notna().any():
            sessions, _ = pd.factorize(ev["session_id"], use_na_sentinel=True)
            sessions = sessions.astype(np.int64)[order]
        catalogue = _align_catalogue(items, item_ids)
        return cls(user_ids=user_ids, item_ids=item_ids, matrix=matrix, seq_indptr=indptr,
                   seq_items=i[order].astype(np.int32), seq_types=codes[order],
                   seq_times=t[order], seq_sessions=sessions, weights=w, items=catalogue)

    @classmethod
    def from_store(cls, store, weights: dict[str, float] | None = None) -> Interactions:
        items = store.items()
        return cls.from_events(store.snapshot(), items=items if len(items) else None,
                               weights=weights)

    # -- persistence (no pickle) --------------------------------------------------------
    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        m = self.matrix
        np.savez_compressed(
            path / "interactions.npz", user_ids=self.user_ids.astype(str),
            item_ids=self.item_ids.astype(str), data=m.data, indices=m.indices,
            indptr=m.indptr, seq_indptr=self.seq_indptr, seq_items=self.seq_items,
            seq_types=self.seq_types, seq_times=self.seq_times,
            **({} if self.seq_sessions is None else {"seq_sessions": self.seq_sessions}))
        (path / "interactions.json").write_text(json.dumps({"weights": self.weights}))
        if self.items is not None:
            self.items.to_json(path / "items.jsonl", orient="records", lines=True)

    @classmethod
    def load(cls, path: str | Path) -> Interactions:
        path = Path(path)
        z = np.load(path / "interactions.npz", allow_pickle=False)
        user_ids = z["user_ids"].astype(object)
        item_ids = z["item_ids"].astype(object)
        matrix = sp.csr_matrix((z["data"], z["indices"], z["indptr"]),
                               shape=(len(user_ids), len(item_ids)))
        meta = json.loads((path / "interactions.json").read_text())
        items = None
        if (path / "items.jsonl").exists():
            items = pd.read_json(path / "items.jsonl", orient="records", lines=True,
                                 dtype={"item_id": str})
        return cls(user_ids=user_ids, item_ids=item_ids, matrix=matrix,
                   seq_indptr=z["seq_indptr"], seq_items=z["seq_items"],
                   seq_types=z["seq_types"], seq_times=z["seq_times"],
                   seq_sessions=z.get("seq_sessions", None),
                   weights=meta["weights"], items=items)


def _align_catalogue(items: pd.DataFrame | None, item_ids: np.ndarray) -> pd.DataFrame | None:
    """The catalogue reindexed to item-index order; rows for unknown items are NA."""
    if items is None or len(items) == 0:
        return None
    cat = items.drop_duplicates("item_id", keep="last").set_index(
        items["item_id"].drop_duplicates(keep="last").astype(str))
    cat = cat.drop(columns="item_id").reindex(pd.Index(item_ids.astype(str), name="item_id"))
    return cat.reset_index()
