"""The registry of model names: name -> "module:Class", resolved when a model is first used.

It imports nothing, so the settings (which check model names) and the models' own layer can
read it without loading any model's code, and a model that lives above ``models`` (the
hybrid, in ``ranking``) is registered by name without ``models`` importing ``ranking``.
``shelfwise.models.MODELS`` is the mapping of names to classes built on it.
"""

from __future__ import annotations

import importlib

#: registry name -> "module:attribute" of the Recommender class
MODEL_PATHS: dict[str, str] = {
    "popular": "shelfwise.models.popular:MostPopular",
    "itemknn": "shelfwise.models.knn:ItemKNN",
    "userknn": "shelfwise.models.knn:UserKNN",
    "rules": "shelfwise.models.rules:AssociationRules",
    "ease": "shelfwise.models.ease:EASE",
    "als": "shelfwise.models.factor:ALS",
    "bpr": "shelfwise.models.factor:BPR",
    "sasrec": "shelfwise.models.seq_models:SASRec",
    "bert4rec": "shelfwise.models.seq_models:BERT4Rec",
    "gru4rec": "shelfwise.models.seq_models:GRU4Rec",
    "bilstm_transformer": "shelfwise.models.seq_models:BiLSTMTransformer",
    "content": "shelfwise.models.content:ContentTFIDF",
    "content_minilm": "shelfwise.models.content:ContentEmbedding",
    "repeat": "shelfwise.models.repeat:RepeatThenPopular",
    "hybrid": "shelfwise.ranking.hybrid:HybridRecommender",
}


def model_names() -> list[str]:
    """Every registered model name, sorted."""
    return sorted(MODEL_PATHS)


def register_model(name: str, path: str) -> None:
    """Register a model class by ``"module:Class"`` (a plug-in's own models, for example)."""
    if ":" not in path:
        raise ValueError(f"model path must be 'module:Class'. Got {path!r} instead.")
    MODEL_PATHS[name] = path


def check_model_name(name: str) -> str:
    if name not in MODEL_PATHS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(model_names())}")
    return name


def model_class(name: str):
    """The class registered as ``name`` (its module imported now if it was not yet)."""
    try:
        module, attribute = MODEL_PATHS[name].split(":")
    except KeyError:
        raise ValueError(f"Unknown model {name!r}. Known: {', '.join(model_names())}.") from None
    return getattr(importlib.import_module(module), attribute)
