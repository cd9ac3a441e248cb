"""The Recommender contract every model implements.

- Hyper-parameters are keyword-only ``__init__`` arguments stored unchanged; they are read
  back from the signature (``get_params``) and checked in ``fit`` against
  ``_parameter_constraints``.
- ``fit(interactions) -> self``; learned attributes end in ``_``.
- ``recommend(user_indices, n, exclude_seen=True, candidates=None)`` is batch-first and
  returns ``(items, scores)``, both of shape (n_users, n); rows with fewer than ``n``
  eligible items are padded with item -1 and score -inf.
- Capabilities are declared in ``capabilities``: "similar_items", "explain", "sequence"
  (``score_sequences``), "live" (``score_histories``), "fold_in", "ranking" (the hybrid's
  ``rank_history``) and "global" (the same scores for every shopper, known or not); a model
  only has the optional methods it declares, and the serving path reads them, not names.
- ``forget_users(user_indices, view)`` takes shoppers out of a fitted model at once (the
  right to be forgotten): their own rows (``seen_``, profiles, factors, histories) are emptied,
  and a model whose ``forgets_exactly`` is True also recomputes what it learned from the
  remaining shoppers' events only (counts, co-occurrences, Gram matrices), so every other
  shopper's scores equal a fit without them. The others (factors, sequence models, the
  hybrid's ranker) keep weights the shoppers helped learn until they are refitted.
- ``save(path)`` / ``load(path)`` use JSON plus ``.npz`` arrays: no pickled code.
"""

from __future__ import annotations

import importlib
import inspect
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.errors import MissingExtra
from shelfwise.models.params import check_params
from shelfwise.registry import model_class

FORMAT_VERSION = 1
#: score cells (users x items) held at once: big catalogues get smaller user blocks (128 MB)
SCORE_BLOCK_CELLS = 2 ** 25


def score_block(n_items: int, cap: int = 1024) -> int:
    """Users to score at once so a dense (block, n_items) matrix stays within SCORE_BLOCK_CELLS."""
    return max(1, min(cap, SCORE_BLOCK_CELLS // max(n_items, 1)))


def mask_rows(scores: np.ndarray, rows: sp.csr_matrix) -> None:
    """Set ``scores[r, j] = -inf`` in place wherever ``rows[r, j]`` is stored."""
    scores[np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr)), rows.indices] = -np.inf


class NotFittedError(RuntimeError):
    pass


class Recommender(ABC):
    name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    _parameter_constraints: ClassVar[dict] = {}
    #: users scored per block, bounding the dense (block, n_items) score matrix
    batch_size: ClassVar[int] = 1024
    #: the optional install this model needs (``pip install 'shelfwise[<extra>]'``) and the
    #: modules that install brings; the core install has none of them
    extra: ClassVar[str | None] = None
    requires: ClassVar[tuple[str, ...]] = ()
    #: True when ``forget_users`` leaves the model equal to a fit without those shoppers
    forgets_exactly: ClassVar[bool] = False

    @classmethod
    def check_installed(cls) -> None:
        """Raise ``MissingExtra`` (naming the extra) if a module this model needs is absent."""
        missing = []
        for module in cls.requires:
            try:
                importlib.import_module(module)
            except ImportError:
                missing.append(module)
        if missing:
            raise MissingExtra(f"The {cls.name} model", cls.extra or "all", missing)

    # -- parameters ------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values() if p.kind == p.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params) -> Recommender:
        unknown = set(params) - set(self._param_names())
        if unknown:
            raise ValueError(f"{type(self).__name__} has no parameter(s) {sorted(unknown)}")
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitting ---------------------------------------------------------------------
    def fit(self, interactions: Interactions) -> Recommender:
        """Learn from ``interactions``; returns self."""
        self.begin_fit(interactions)
        self._fit(interactions)
        return self

    def begin_fit(self, interactions: Interactions) -> None:
        """What ``fit`` does before the model's own learning: check the install and the
        parameters, and keep the state every model has (shape, seen items, behaviour weights).
        A trainer that learns elsewhere (``shelfwise.models.spark``) calls it too."""
        self.check_installed()
        check_params(type(self).__name__, self.get_params(), self._parameter_constraints)
        self.n_users_, self.n_items_ = interactions.n_users, interactions.n_items
        self.seen_ = interactions.binary.tocsr()
        # (len(EVENT_TYPES),) the behaviour weights of this fit, for profiles built at serving time
        self.type_weights_ = np.array([interactions.weights.get(t, 0.0) for t in EVENT_TYPES], np.float32)

    @abstractmethod
    def _fit(self, interactions: Interactions) -> None: ...

    @abstractmethod
    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        """Dense scores, shape (len(user_indices), n_items); higher is better."""

    def check_is_fitted(self) -> None:
        if not hasattr(self, "n_items_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit().")

    # -- recommending -----------------------------------------------------------------
    def score(self, user_indices) -> np.ndarray:
        """Raw scores for every item, shape (n_users, n_items)."""
        self.check_is_fitted()
        users = self._check_users(user_indices)
        return self._score(users).astype(np.float32, copy=False)

    def score_columns(self, item_indices) -> np.ndarray:
        """Every user's score of the given items, shape (n_users, len(item_indices)): the
        columns of ``score`` (an item's audience). Models with an item x item matrix or item
        factors override this with one product per column; this default scores users in
        blocks and keeps the columns."""
        self.check_is_fitted()
        items = np.atleast_1d(np.asarray(item_indices, dtype=np.int64))
        out = np.empty((self.n_users_, len(items)), dtype=np.float32)
        step = score_block(self.n_items_, self.batch_size)
        for start in range(0, self.n_users_, step):
            block = np.arange(start, min(start + step, self.n_users_))
            out[block] = self._score(block)[:, items]
        return out

    def recommend(self, user_indices, n: int = 10, exclude_seen: bool = True,
                  candidates=None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` items per user: (items int64 (B, n), scores float32 (B, n)).

        candidates: None (all items), a 1-D array of item indices allowed for every user,
        or a list of per-user arrays.
        """
        self.check_is_fitted()
        users = self._check_users(user_indices)
        if n < 1:
            raise ValueError(f"n must be >= 1. Got {n} instead.")
        out_items = np.full((len(users), n), -1, dtype=np.int64)
        out_scores = np.full((len(users), n), -np.inf, dtype=np.float32)
        step = score_block(self.n_items_, self.batch_size)
        for start in range(0, len(users), step):
            block = users[start:start + step]
            scores = self._score(block).astype(np.float32, copy=True)
            if exclude_seen:
                mask_rows(scores, self.seen_[block])
            if candidates is not None:
                scores = _restrict(scores, candidates, start)
            items, top = top_n(scores, n)
            out_items[start:start + len(block)] = items
            out_scores[start:start + len(block)] = top
        return out_items, out_scores

    def _check_users(self, user_indices) -> np.ndarray:
        users = np.atleast_1d(np.asarray(user_indices, dtype=np.int64))
        if users.ndim != 1:
            raise ValueError("user_indices must be 1-D")
        if len(users) and (users.min() < 0 or users.max() >= self.n_users_):
            raise IndexError(f"user indices must be in [0, {self.n_users_}); "
                             "unknown users go through Engine's cold-start path")
        return users

    # -- forgetting ---------------------------------------------------------------------
    def forget_users(self, user_indices, view: Interactions) -> Recommender:
        """Take the shoppers ``user_indices`` out of the fitted model; returns self.

        view: the training view the model was fitted on, still holding them (their events
        are what is taken out). Index spaces do not change: their rows stay, empty, so
        they score as a shopper with no history. See ``forgets_exactly``."""
        self.check_is_fitted()
        users = np.unique(self._check_users(user_indices))
        if len(users):
            self.seen_ = zero_rows(self.seen_, users)
            self._forget(users, view)
        return self

    def _forget(self, users: np.ndarray, view: Interactions) -> None:  # noqa: B027 (an optional hook)
        """Empty the shoppers' own state (rows of per-shopper arrays) and, for a model that
        forgets exactly, recompute the learned counts without their events."""

    # -- persistence ------------------------------------------------------------------
    def _state(self) -> dict[str, Any]:
        """Learned arrays to save (numpy arrays, scipy sparse matrices or JSON scalars)."""
        return {}

    def _set_state(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            setattr(self, k, v)

    def save(self, path: str | Path) -> Path:
        self.check_is_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        state = {"n_users_": self.n_users_, "n_items_": self.n_items_, "seen_": self.seen_,
                 "type_weights_": self.type_weights_, **self._state()}
        arrays, scalars = {}, {}
        for key, value in state.items():
            if sp.issparse(value):
                csr = value.tocsr()
                arrays.update({f"{key}.data": csr.data, f"{key}.indices": csr.indices,
                               f"{key}.indptr": csr.indptr,
                               f"{key}.shape": np.asarray(csr.shape)})
                scalars[key] = "__csr__"
            elif isinstance(value, np.ndarray):
                arrays[key] = value
                scalars[key] = "__array__"
            else:
                scalars[key] = value
        np.savez(path / "state.npz", **arrays)
        meta = {"format": FORMAT_VERSION, "model": self.name, "params": self.get_params(),
                "state": scalars}
        (path / "model.json").write_text(json.dumps(meta, indent=2))
        self._save_parts(path)
        return path

    def _save_parts(self, path: Path) -> None:  # noqa: B027 (an optional hook)
        """Save what is not an array (a composite model's own sub-models) under ``path``."""

    def _load_parts(self, path: Path) -> None:  # noqa: B027 (an optional hook)
        """Load what ``_save_parts`` saved."""

    @staticmethod
    def load(path: str | Path) -> Recommender:
        path = Path(path)
        meta = json.loads((path / "model.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{path}: unsupported model format {meta.get('format')!r}")
        cls = model_class(meta["model"])
        cls.check_installed()
        model = cls(**meta["params"])
        z = np.load(path / "state.npz", allow_pickle=False)
        state = {}
        for key, kind in meta["state"].items():
            if kind == "__csr__":
                state[key] = sp.csr_matrix(
                    (z[f"{key}.data"], z[f"{key}.indices"], z[f"{key}.indptr"]),
                    shape=tuple(z[f"{key}.shape"]))
            elif kind == "__array__":
                state[key] = z[key]
            else:
                state[key] = kind
        model._set_state(state)
        model._load_parts(path)
        return model


def zero_rows(matrix, rows: np.ndarray):
    """``matrix`` (sparse csr or dense, rows first) with ``rows`` set to zero (sparse: no
    stored entry left in them); a copy, of the same type and dtype."""
    if sp.issparse(matrix):
        out = matrix.tocsr(copy=True)
        for r in rows:
            out.data[out.indptr[r]:out.indptr[r + 1]] = 0
        out.eliminate_zeros()
        return out
    out = np.array(matrix, copy=True)
    out[rows] = 0
    return out


def top_n(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top ``n`` of (B, n_items) scores, best first; -inf entries become item -1.
    The same scores always give the same order (ties inside the list by item index)."""
    k = min(n, scores.shape[1])
    if np.isnan(scores).any():  # NaN would be neither above nor at the k-th score
        scores = np.where(np.isnan(scores), -np.inf, scores)
    if k < scores.shape[1]:
        # argpartition picks arbitrarily among items tied at the k-th score; take the lowest
        # indices among those, so a longer list always starts with the shorter one
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        kth = np.take_along_axis(scores, part, axis=1).min(axis=1)
        # ties at the k-th score: resolve them row by row (a sparse model ties most of the
        # catalogue at 0; a cumulative sum over the whole (B, n_items) block cost more than
        # the partition itself)
        for r in np.nonzero((scores >= kth[:, None]).sum(axis=1) > k)[0]:
            above = np.flatnonzero(scores[r] > kth[r])
            part[r] = np.concatenate([above, np.flatnonzero(scores[r] == kth[r])[:k - len(above)]])
    else:
        part = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    # a stable sort on (-score, index) for a deterministic order
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    items = np.take_along_axis(part, order, axis=1).astype(np.int64)
    vals = np.take_along_axis(vals, order, axis=1)
    items[~np.isfinite(vals)] = -1
    vals[~np.isfinite(vals)] = -np.inf
    if k < n:
        pad = n - k
        items = np.pad(items, ((0, 0), (0, pad)), constant_values=-1)
        vals = np.pad(vals, ((0, 0), (0, pad)), constant_values=-np.inf)
    return items, vals.astype(np.float32)


def _restrict(scores: np.ndarray, candidates, offset: int) -> np.ndarray:
    allowed = np.zeros_like(scores, dtype=bool)
    if isinstance(candidates, np.ndarray) and candidates.ndim == 1:
        allowed[:, candidates] = True
    else:
        for r in range(scores.shape[0]):
            allowed[r, np.asarray(candidates[offset + r], dtype=np.int64)] = True
    scores[~allowed] = -np.inf
    return scores
