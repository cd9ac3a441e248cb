"""Content-based recommendation from the catalogue: TF-IDF over each item's title,
description, category path, brand and attributes (scikit-learn; the ``content`` extra).

An item is an L2-normalised TF-IDF row; a user's profile is the recency- and
behaviour-weighted mean of the items they touched; scores are cosine-like dot products.
Items nobody has interacted with yet have text, so they are recommendable from day one,
which is what collaborative models cannot do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shelfwise.data.interactions import Interactions
from shelfwise.models.base import Recommender, top_n
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


def _token(value) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(value).lower())


class ContentTFIDF(Recommender):
    name = "content"
    capabilities = frozenset({"similar_items"})
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

    def _fit(self, interactions: Interactions) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        docs = item_documents(interactions.items, interactions.n_items)
        if not any(docs):
            raise ValueError("ContentTFIDF needs a catalogue with text or attributes "
                             "(titles, categories, brands, attributes).")
        vec = TfidfVectorizer(max_features=self.max_features, min_df=self.min_df,
                              sublinear_tf=self.sublinear_tf, token_pattern=r"(?u)\b\w+\b")
        self.item_vectors_ = vec.fit_transform(docs).astype(np.float32).tocsr()  # (n_items, terms)
        prof = user_profiles(interactions, self.recency_decay)
        sums = np.asarray(prof.sum(axis=1)).ravel()
        inv = sp.diags(np.where(sums > 0, 1.0 / np.maximum(sums, 1e-12), 0.0).astype(np.float32))
        self.user_vectors_ = (inv @ prof @ self.item_vectors_).tocsr()  # (n_users, terms)

    def _score(self, user_indices: np.ndarray) -> np.ndarray:
        return (self.user_vectors_[user_indices] @ self.item_vectors_.T).toarray()

    def similar_items(self, item_indices, n: int = 10):
        self.check_is_fitted()
        items = np.atleast_1d(np.asarray(item_indices, dtype=np.int64))
        scores = (self.item_vectors_[items] @ self.item_vectors_.T).toarray()
        scores[np.arange(len(items)), items] = -np.inf
        return top_n(scores, n)

    def _state(self) -> dict:
        return {"item_vectors_": self.item_vectors_, "user_vectors_": self.user_vectors_}
