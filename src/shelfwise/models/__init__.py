"""Recommenders behind one contract (``shelfwise.models.base.Recommender``).

``MODELS`` maps the names used by the CLI, settings and saved models to classes. It reads
the name registry (``shelfwise.registry``) and imports a model's module when that model is
first asked for, so importing this package loads no model's code (nor ``torch``, nor the
ranking package where the hybrid lives).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from shelfwise.models.base import NotFittedError, Recommender
from shelfwise.models.params import InvalidParameterError
from shelfwise.registry import MODEL_PATHS, model_class


class _Models(Mapping):
    """Read-only {name: Recommender class}, resolved lazily from the registry."""

    def __getitem__(self, name: str) -> type[Recommender]:
        if name not in MODEL_PATHS:
            raise KeyError(name)
        return model_class(name)

    def __iter__(self) -> Iterator[str]:
        return iter(MODEL_PATHS)

    def __len__(self) -> int:
        return len(MODEL_PATHS)


MODELS: Mapping[str, type[Recommender]] = _Models()


def create(name: str, **params) -> Recommender:
    """A new, unfitted model by its registry name."""
    if name not in MODEL_PATHS:
        raise ValueError(f"Unknown model {name!r}. Known: {', '.join(sorted(MODEL_PATHS))}.")
    cls = MODELS[name]
    cls.check_installed()
    return cls(**params)


_CLASSES = {"ALS": "als", "BPR": "bpr", "EASE": "ease", "AssociationRules": "rules",
            "BERT4Rec": "bert4rec", "BiLSTMTransformer": "bilstm_transformer",
            "ContentEmbedding": "content_minilm", "ContentTFIDF": "content", "GRU4Rec": "gru4rec",
            "ItemKNN": "itemknn", "MostPopular": "popular", "RepeatThenPopular": "repeat",
            "SASRec": "sasrec", "UserKNN": "userknn"}


def __getattr__(attribute: str):
    """``from shelfwise.models import ItemKNN`` still works, importing only that model."""
    if attribute in _CLASSES:
        return model_class(_CLASSES[attribute])
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


__all__ = ["MODELS", "InvalidParameterError", "NotFittedError", "Recommender", "create", *_CLASSES]
