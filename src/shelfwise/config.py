"""Typed settings: the one source of defaults.

Values come from keyword arguments, then ``SHELFWISE_*`` environment variables, then the
defaults below. Nothing here reads ``sys.argv``: the CLI parses arguments and passes them in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: Default confidence each behaviour contributes to the user x item matrix. ``review`` uses
#: the event's rating (``value``) when present, else this fallback.
DEFAULT_BEHAVIOUR_WEIGHTS: dict[str, float] = {
    "view": 1.0,
    "click": 1.0,
    "favorite": 2.0,
    "cart": 3.0,
    "remove_from_cart": 0.0,
    "purchase": 5.0,
    "review": 3.0,
    "search": 0.0,
}


class Settings(BaseModel):
    """Engine settings. ``Settings.from_env()`` overlays ``SHELFWISE_<FIELD>`` variables."""

    model_config = ConfigDict(extra="forbid")

    home: Path = Field(default=Path(".shelfwise"), description="folder for models and reports")
    store_url: str = Field(default="", description="EventStore URL; '' means sqlite in home")
    behaviour_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_BEHAVIOUR_WEIGHTS)
    )
    models: list[str] = Field(default_factory=lambda: ["popular", "itemknn", "userknn", "rules"])
    default_model: str = "itemknn"
    # rows per transaction: large enough that commits and WAL checkpoints stay cheap
    import_chunk_rows: int = Field(default=200_000, ge=1)

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.home / 'events.db'}"

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        values: dict[str, Any] = {}
        for name in ("home", "store_url", "default_model"):
            env = os.environ.get(f"SHELFWISE_{name.upper()}")
            if env:
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
