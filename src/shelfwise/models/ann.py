"""Approximate top-n retrieval for big catalogues: faiss HNSW graphs (Malkov & Yashunin 2018)
over item vectors split by norm range, searched by inner product (``ItemIndex``; the ``ann``
extra: ``pip install 'shelfwise[ann]'``).

A model with dense item vectors mixes in ``ApproximateRetrieval`` and says which vectors to
index, how a shopper's query vector is made and how exact scores are computed, through four
methods the mixin calls (it declares none itself: it comes first among the class's bases):

- ``_ann_vectors() -> (vectors (n_items, d) for recommend, unit-length vectors (n_items, d)
  for similar_items, or None when the first already are)``;
- ``_ann_queries(users (B,)) -> (B, d)``: the trained shoppers' query vectors;
- ``_ann_item_queries(items (B,)) -> (B, d)``: the items' query vectors for similar_items;
- ``_ann_exact(users (B,), items (B, k)) -> (B, k) float32``: exact scores;
- ``_ann_similar_exact(items (B,), others (B, k)) -> (B, k) float32``: exact similarities.

At fit, a catalogue of at
least ``ann_threshold`` items gets an index; smaller catalogues are scored exactly, as before.

With an index, ``recommend`` (and so candidate retrieval) and ``similar_items`` ask it for
``n`` + (items the shopper has seen) neighbours, drop the seen ones, re-score the rest exactly
and keep the best ``n``; a shopper the index leaves short, whose list reaches scores <= 0, or
who has seen more than ``MAX_FETCH`` items, is scored exactly. ``candidates=`` (a given item set) is always exact.

Without faiss installed, a model that would build or load an index logs one warning and scores
exactly: the lists are then exact ones, only slower.
"""

from __future__ import annotations

import logging

import numpy as np

from shelfwise.models.base import top_n
from shelfwise.models.params import Interval

log = logging.getLogger("shelfwise.models")

#: HNSW graph degree and construction beam: on a 200,000-item sample of the 1M-item ALS factors,
#: M 32 / efConstruction 80 built 1.7x slower for 0.001 more recall@100
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 40
#: the most neighbours asked of the graph per query; a shopper needing more is scored exactly
MAX_FETCH = 2048
#: norm ranges: largest / smallest norm within one, the most items per graph (a bigger range is
#: cut, by norm, into several), a flat scan below this size
NORM_RATIO = 2.0
MAX_PART = 32_768
FLAT_BELOW = 20_000
#: the highest-norm ranges are scanned flat until this share of the indexed items: they hold
#: most of every shopper's top 100 (ALS on the 1M-item synthetic shop: 96% of it in the top
#: 7%), and an inner-product graph over high-dimensional factors misses much of a range's own
#: top 100 there (0.59 recall@100 at ef_search 1024 on a 32,768-item range; M 32 and
#: efConstruction 200: 0.80 at 512; IVF, 256 lists: 0.73 at 64 probes)
FLAT_SHARE = 0.05
#: the parameters every model with the mixin takes
ANN_CONSTRAINTS = {"ann_threshold": Interval(int, 1, allow_none=True), "ann_ef_search": Interval(int, 1)}


def _faiss():
    try:
        import faiss
    except ImportError:
        return None
    return faiss


def _search(index, queries: np.ndarray, k: int, params):
    """``index.search``, on one thread for a few queries: a parallel region per call costs more
    than it saves for one query, and on a busy machine it waits for descheduled threads."""
    faiss = _faiss()
    if len(queries) >= 8:
        return index.search(queries, k, params=params)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(queries, k, params=params)
    finally:
        faiss.omp_set_num_threads(threads)


class ItemIndex:
    """Maximum-inner-product search over item vectors (n_items, d) float32, by norm range.

    Factors of a long-tail catalogue have very unequal norms (ALS on the 1M-item synthetic shop:
    median 0.03, 99th percentile 0.45, maximum 2.2; 16% exactly zero, items nobody touched), and
    one HNSW graph searched by inner product over all of them found a tenth of the exact top 100.
    So the items are split by norm into ranges whose norms differ by at most ``NORM_RATIO``
    (Norm-Ranging, Yan et al. 2018), each range searched by its own graph (a flat scan below
    ``FLAT_BELOW`` items, and every range that starts within the top ``FLAT_SHARE`` of the
    items by norm), highest norms first; a range is skipped for a query once
    |query| x (the range's largest norm) cannot beat the k-th best score found (Cauchy-Schwarz),
    which leaves most of the tail unsearched. Zero vectors are not indexed (``n_zero`` counts them).
    """

    def __init__(self, parts: list, ids: list[np.ndarray], max_norms: np.ndarray, n_items: int, n_zero: int):
        self.parts, self.ids, self.max_norms = parts, ids, max_norms
        self.n_items, self.n_zero = n_items, n_zero

    @classmethod
    def build(cls, vectors: np.ndarray) -> ItemIndex:
        faiss = _faiss()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1)
        order = np.argsort(-norms, kind="stable")
        order = order[norms[order] > 0]
        parts, ids, tops = [], [], []
        start, head = 0, int(FLAT_SHARE * len(order))
        while start < len(order):
            top = norms[order[start]]
            floor = top / NORM_RATIO
            end = start + int(np.searchsorted(-norms[order[start:]], -floor, side="left"))
            end = min(max(end, start + 1), start + MAX_PART)  # a big range: graphs of MAX_PART items
            members = order[start:end]
            if len(members) < FLAT_BELOW or start < head:
                index = faiss.IndexFlatIP(vectors.shape[1])
                index.add(vectors[members])
            else:
                index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
                index.add(vectors[members])
            parts.append(index)
            ids.append(members.astype(np.int64))
            tops.append(top)
            start = end
        return cls(parts, ids, np.asarray(tops, np.float32), len(vectors), int((norms == 0).sum()))

    def search(self, queries: np.ndarray, k: int, ef_search: int) -> np.ndarray:
        """Item ids (B, k) int64, best first by inner product; -1 where fewer than k were found.
        ``ef_search`` (each graph's search beam) is raised to k if smaller."""
        faiss = _faiss()
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        q_norms = np.linalg.norm(queries, axis=1)
        best_ids = np.full((len(queries), k), -1, dtype=np.int64)
        best = np.full((len(queries), k), -np.inf, dtype=np.float32)
        for index, members, top in zip(self.parts, self.ids, self.max_norms, strict=True):
            rows = np.nonzero(q_norms * top > best[:, -1])[0]  # queries this range can still improve
            if not len(rows):
                break  # ranges come by decreasing norm: no later one can either
            kk = min(k, index.ntotal)
            params = faiss.SearchParametersHNSW(efSearch=max(ef_search, kk)) \
                if isinstance(index, faiss.IndexHNSW) else None
            scores, found = _search(index, queries[rows], kk, params)
            found = np.where(found >= 0, members[np.maximum(found, 0)], -1)
            scores = np.where(found >= 0, scores, -np.inf)
            both_ids = np.concatenate([best_ids[rows], found], axis=1)
            both = np.concatenate([best[rows], scores], axis=1)
            keep = np.argsort(-both, axis=1, kind="stable")[:, :k]
            best_ids[rows] = np.take_along_axis(both_ids, keep, axis=1)
            best[rows] = np.take_along_axis(both, keep, axis=1)
        return best_ids

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The index as arrays for the model's .npz: each range in faiss's own serialised format
        (uint8), no pickle."""
        faiss = _faiss()
        blobs = [np.asarray(faiss.serialize_index(p), dtype=np.uint8) for p in self.parts]
        return {"bytes": np.concatenate(blobs), "byte_ends": np.cumsum([len(b) for b in blobs]),
                "ids": np.concatenate(self.ids), "id_ends": np.cumsum([len(i) for i in self.ids]),
                "max_norms": self.max_norms, "sizes": np.array([self.n_items, self.n_zero])}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> ItemIndex:
        faiss = _faiss()
        blobs = np.split(np.asarray(a["bytes"], dtype=np.uint8), a["byte_ends"][:-1])
        parts = [faiss.deserialize_index(np.ascontiguousarray(b)) for b in blobs]
        ids = np.split(np.asarray(a["ids"], dtype=np.int64), a["id_ends"][:-1])
        n_items, n_zero = (int(x) for x in a["sizes"])
        return cls(parts, ids, np.asarray(a["max_norms"], np.float32), n_items, n_zero)

    @property
    def nbytes(self) -> int:
        """Memory the index holds: vector copies, the graphs' neighbour lists, item ids."""
        total = sum(i.nbytes for i in self.ids)
        for p in self.parts:
            total += p.ntotal * p.d * 4
            if hasattr(p, "hnsw"):
                total += p.hnsw.neighbors.size() * 4 + p.hnsw.offsets.size() * 8 + p.hnsw.levels.size() * 4
        return int(total)

    def describe(self) -> str:
        """One line: the ranges' sizes and kinds."""
        kinds = ["hnsw" if hasattr(p, "hnsw") else "flat" for p in self.parts]
        return ", ".join(f"{p.ntotal:,} {k}" for p, k in zip(self.parts, kinds, strict=True)) + \
            f"; {self.n_zero:,} zero vectors unindexed"


class ApproximateRetrieval:
    """Mixin for ``Recommender`` subclasses with dense item vectors; put it before the base.

    Subclasses take the parameters ``ann_threshold`` (int, or None: never an index) and
    ``ann_ef_search`` (the HNSW search beam; higher: better recall, slower) and define the
    ``_ann_*`` hooks; ``fit`` builds the index after the model's own fit. ``ann_index_``
    (the recommend index) and ``ann_similar_`` (the similar-items index; the same object when
    the vectors are already unit length) are None when scoring is exact."""

    ann_index_: ItemIndex | None = None
    ann_similar_: ItemIndex | None = None

    # -- building and persistence --------------------------------------------------------
    def fit(self, interactions):
        super().fit(interactions)
        self._build_ann()
        return self

    def _build_ann(self) -> None:
        """Build the index(es) if the catalogue is big enough; a trainer that sets the vectors
        itself (``shelfwise.models.spark``) calls this after."""
        self.ann_index_ = self.ann_similar_ = None
        if self.ann_threshold is None or self.n_items_ < self.ann_threshold:
            return
        if _faiss() is None:
            log.warning("%s: %d items >= ann_threshold %d but faiss is not installed "
                        "(pip install 'shelfwise[ann]'): scoring every item exactly",
                        type(self).__name__, self.n_items_, self.ann_threshold)
            return
        vectors, unit = self._ann_vectors()
        self.ann_index_ = ItemIndex.build(vectors)
        self.ann_similar_ = self.ann_index_ if unit is None else ItemIndex.build(unit)

    def _state(self) -> dict:
        state = super()._state()
        if self.ann_index_ is None:
            return state
        state.update({f"ann_index_.{k}": v for k, v in self.ann_index_.to_arrays().items()})
        if self.ann_similar_ is not self.ann_index_:
            state.update({f"ann_similar_.{k}": v for k, v in self.ann_similar_.to_arrays().items()})
        return state

    def _set_state(self, state: dict) -> None:
        index, similar = {}, {}
        for key in [k for k in state if k.startswith(("ann_index_.", "ann_similar_."))]:
            name, part = key.split(".", 1)
            (index if name == "ann_index_" else similar)[part] = state.pop(key)
        super()._set_state(state)
        self.ann_index_ = self.ann_similar_ = None
        if not index:
            return
        if _faiss() is None:
            log.warning("%s was saved with an ANN index but faiss is not installed "
                        "(pip install 'shelfwise[ann]'): scoring every item exactly", type(self).__name__)
            return
        self.ann_index_ = ItemIndex.from_arrays(index)
        self.ann_similar_ = ItemIndex.from_arrays(similar) if similar else self.ann_index_

    # -- retrieval ---------------------------------------------------------------------
    def recommend(self, user_indices, n: int = 10, exclude_seen: bool = True,
                  candidates=None) -> tuple[np.ndarray, np.ndarray]:
        if self.ann_index_ is None or candidates is not None or n < 1:
            return super().recommend(user_indices, n, exclude_seen, candidates)
        self.check_is_fitted()
        users = self._check_users(user_indices)
        seen = self.seen_[users] if exclude_seen else None
        n_seen = np.diff(seen.indptr) if exclude_seen else np.zeros(len(users), np.int64)
        want = np.minimum(n, self.n_items_ - n_seen)  # items a full list can hold

        def search(rows: np.ndarray, k: int):
            ids = self.ann_index_.search(self._ann_queries(users[rows]), k, self.ann_ef_search)
            if exclude_seen:
                ids = _drop(ids, seen[rows])
            scores = self._ann_exact(users[rows], np.maximum(ids, 0))
            return ids, scores

        return _approximate(search, n, n + n_seen, want,
                            lambda rows: super(ApproximateRetrieval, self).recommend(
                                users[rows], n, exclude_seen))

    def similar_items(self, item_indices, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        if self.ann_similar_ is None:
            return super().similar_items(item_indices, n)
        self.check_is_fitted()
        items = np.atleast_1d(np.asarray(item_indices, dtype=np.int64))
        index = self.ann_similar_

        def search(rows: np.ndarray, k: int):
            ids = index.search(self._ann_item_queries(items[rows]), k, self.ann_ef_search)
            ids = np.where(ids == items[rows, None], -1, ids)  # an item is not similar to itself
            return ids, self._ann_similar_exact(items[rows], np.maximum(ids, 0))

        return _approximate(search, n, np.full(len(items), n + 1), np.full(len(items), min(n, self.n_items_ - 1)),
                            lambda rows: super(ApproximateRetrieval, self).similar_items(items[rows], n))


def _drop(ids: np.ndarray, rows) -> np.ndarray:
    """``ids`` (B, k) with the items stored in csr ``rows`` (B, n_items) set to -1."""
    r = np.repeat(np.arange(rows.shape[0]), np.diff(rows.indptr))
    hit = np.zeros(ids.shape, dtype=bool)
    if len(r):
        # (row, item) pairs as one int64 key: a sorted membership test, no (B, n_items) mask
        n_items = rows.shape[1]
        seen = np.sort(r.astype(np.int64) * n_items + rows.indices)
        keys = np.arange(len(ids))[:, None].astype(np.int64) * n_items + np.maximum(ids, 0)
        pos = np.minimum(np.searchsorted(seen, keys), len(seen) - 1)
        hit = seen[pos] == keys
    return np.where(hit, -1, ids)


def _approximate(search, n: int, need: np.ndarray, want: np.ndarray, exact):
    """Top-``n`` lists (items (B, n), scores (B, n)) from the graph.

    search(rows, k) -> (ids (len(rows), k) with -1 for dropped or missing items, exact
    scores of the same shape); need (B,): neighbours each row must fetch; want (B,): how many
    items a full row holds; exact(rows) -> the exact lists of those rows, for the rows the
    graph leaves short and those needing more than ``MAX_FETCH`` neighbours."""
    B = len(need)
    out_items = np.full((B, n), -1, dtype=np.int64)
    out_scores = np.full((B, n), -np.inf, dtype=np.float32)
    short = [np.nonzero(need > MAX_FETCH)[0]]
    # rows grouped by the power of two of neighbours they need: one heavy shopper does not
    # make the whole batch fetch thousands of neighbours; a row's fetch depends on it alone
    k_of = np.maximum(2 ** np.ceil(np.log2(np.maximum(need, 1))).astype(np.int64), 16)
    for k in np.unique(k_of[need <= MAX_FETCH]):
        rows = np.nonzero((k_of == k) & (need <= MAX_FETCH))[0]
        ids, scores = search(rows, int(k))
        scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
        pos, top = top_n(scores, n)  # positions within the fetched row, best exact score first
        items = np.where(pos >= 0, np.take_along_axis(ids, np.maximum(pos, 0), axis=1), -1)
        order = np.lexsort((items, -top), axis=1)  # ties by item index, as the exact lists
        items, top = np.take_along_axis(items, order, axis=1), np.take_along_axis(top, order, axis=1)
        # a list reaching scores <= 0 goes exact: unindexed zero vectors score 0 there, and
        # ties at 0 (a shopper with zero factors) are ordered by item index
        full = ((items >= 0).sum(axis=1) >= want[rows]) & ~(top[:, -1] <= 0)
        out_items[rows[full]], out_scores[rows[full]] = items[full], top[full]
        short.append(rows[~full])
    short = np.concatenate(short)
    if len(short):
        out_items[short], out_scores[short] = exact(short)
    return out_items, out_scores
