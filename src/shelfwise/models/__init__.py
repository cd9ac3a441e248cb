"""Recommenders behind one contract (``shelfwise.models.base.Recommender``).

``MODELS`` maps the names used by the CLI, settings and saved models to classes.
"""

from shelfwise.models.base import NotFittedError, Recommender
from shelfwise.models.content import ContentEmbedding, ContentTFIDF
from shelfwise.models.ease import EASE
from shelfwise.models.factor import ALS, BPR
from shelfwise.models.knn import ItemKNN, UserKNN
from shelfwise.models.params import InvalidParameterError
from shelfwise.models.popular import MostPopular
from shelfwise.models.repeat import RepeatThenPopular
from shelfwise.models.rules import AssociationRules
from shelfwise.models.seq_models import BERT4Rec, BiLSTMTransformer, GRU4Rec, SASRec

MODELS: dict[str, type[Recommender]] = {
    cls.name: cls for cls in (MostPopular, ItemKNN, UserKNN, AssociationRules, EASE, ALS, BPR,
                              SASRec, BERT4Rec, GRU4Rec, BiLSTMTransformer, ContentTFIDF,
                              ContentEmbedding, RepeatThenPopular)
}



def _register_pipeline() -> None:
    """The hybrid pipeline (``shelfwise.ranking``) is a model too, so every command that takes
    a model name runs it. It lives above ``models`` and builds on ``MODELS`` and ``create``,
    so it is registered once they exist: from here, or, when the hybrid's own module is the
    one being imported (and so not finished yet), by that module at its end."""
    import sys

    if "shelfwise.ranking.hybrid" in sys.modules:
        return
    from shelfwise.ranking.hybrid import HybridRecommender

    MODELS[HybridRecommender.name] = HybridRecommender


def create(name: str, **params) -> Recommender:
    """A new, unfitted model by its registry name."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"Unknown model {name!r}. Known: {', '.join(sorted(MODELS))}.") from None
    cls.check_installed()
    return cls(**params)


_register_pipeline()


__all__ = [
    "ALS",
    "BPR",
    "EASE",
    "MODELS",
    "AssociationRules",
    "BERT4Rec",
    "BiLSTMTransformer",
    "ContentEmbedding",
    "ContentTFIDF",
    "GRU4Rec",
    "InvalidParameterError",
    "ItemKNN",
    "MostPopular",
    "NotFittedError",
    "Recommender",
    "RepeatThenPopular",
    "SASRec",
    "UserKNN",
    "create"
]
