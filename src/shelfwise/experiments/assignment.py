"""Experiment specs and the deterministic assignment of shoppers to variants.

A shopper's place in an experiment is u = HMAC-SHA256(key=salt, msg=shopper id), its first 8
bytes read as an integer over 2**64: a uniform number in [0, 1) that is the same on every
request and in every process, and independent between experiments (each has its own random
salt). The shopper is in the experiment when u < ``traffic``; then u / traffic, uniform in
[0, 1) again, falls in one variant's slice of the cumulative traffic shares.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import numpy as np

KINDS = ("ab", "interleave")
#: What a variant may set: the serving path's list options (``serving.types.ListRequest``).
OPTIONS = ("model", "diversity", "explore", "rules", "exclude_types")
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class Variant:
    name: str
    share: float  # of the experiment's shoppers (A/B); interleaving takes both on every list
    options: dict[str, Any] = field(default_factory=dict)  # a subset of OPTIONS


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    kind: str  # "ab" or "interleave"
    variants: tuple[Variant, ...]
    salt: str  # hex; the HMAC key
    traffic: float = 1.0  # share of all shoppers in the experiment
    created_at: float = 0.0
    stopped_at: float | None = None
    pre_days: float = 14.0  # CUPED's pre-period: this many days before created_at

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    def variant_of(self, user_id: str) -> Variant | None:
        """The shopper's variant; None when they are outside the experiment's traffic."""
        u = bucket(self.salt, user_id)
        if u >= self.traffic:
            return None
        if self.kind == "interleave":
            return self.variants[0]  # every shopper in an interleaving experiment sees both
        edges = np.cumsum([v.share for v in self.variants])
        k = int(np.searchsorted(edges / edges[-1], u / self.traffic, side="right"))
        return self.variants[min(k, len(self.variants) - 1)]

    def spec(self) -> dict:
        """The JSON the store keeps (everything but id, name, kind and the times)."""
        return {"salt": self.salt, "traffic": self.traffic, "pre_days": self.pre_days,
                "variants": [{"name": v.name, "share": v.share, "options": v.options} for v in self.variants]}

    @classmethod
    def from_record(cls, record: dict) -> Experiment:
        spec = record["spec"]
        return cls(record["experiment_id"], record["name"], record["kind"],
                   tuple(Variant(v["name"], float(v["share"]), dict(v["options"])) for v in spec["variants"]),
                   spec["salt"], float(spec["traffic"]), float(record["created_at"]), record.get("stopped_at"),
                   float(spec.get("pre_days", 14.0)))


def bucket(salt: str, user_id: str) -> float:
    """u in [0, 1) from HMAC-SHA256(salt, user id)."""
    digest = hmac.new(bytes.fromhex(salt), str(user_id).encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def check_variants(kind: str, variants: list[dict]) -> list[Variant]:
    """Variants from their JSON form ({name, share, options}), checked; ValueError naming the
    field otherwise. A/B: two or more, shares > 0 (normalised to sum 1). Interleaving: exactly
    two, without the exploration slot (its propensities would not hold in a merged list)."""
    if kind not in KINDS:
        raise ValueError(f"kind: must be one of {KINDS}, got {kind!r}")
    if not isinstance(variants, list) or not 2 <= len(variants) <= 10:
        raise ValueError("variants: give 2 to 10 variants")
    if kind == "interleave" and len(variants) != 2:
        raise ValueError("variants: interleaving compares exactly 2 variants")
    out, names = [], set()
    for k, v in enumerate(variants):
        if not isinstance(v, dict):
            raise ValueError(f"variants[{k}]: must be an object with name, share and options")
        name = v.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 64 or set(name) - NAME_CHARS:
            raise ValueError(f"variants[{k}].name: 1 to 64 letters, digits, '_', '-' or '.'")
        if name in names:
            raise ValueError(f"variants[{k}].name: {name!r} is given twice")
        names.add(name)
        share = v.get("share", 1.0 / len(variants))
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise ValueError(f"variants[{k}].share: must be a number in (0, 1]")
        options = v.get("options") or {}
        if not isinstance(options, dict):
            raise ValueError(f"variants[{k}].options: must be an object")
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ValueError(f"variants[{k}].options: unknown option(s) {unknown}; known: {', '.join(OPTIONS)}")
        _check_options(f"variants[{k}].options", options)
        if kind == "interleave" and options.get("explore"):
            raise ValueError(f"variants[{k}].options.explore: interleaving serves no exploration slot")
        out.append(Variant(name, float(share), dict(options)))
    total = sum(v.share for v in out)
    return [Variant(v.name, v.share / total, v.options) for v in out]


def _check_options(where: str, options: dict) -> None:
    """Each option as the serving path takes it (``serving.types.ListRequest``)."""
    from pydantic import ValidationError

    from shelfwise.data.rules import RuleSet
    from shelfwise.data.schemas import EVENT_TYPES
    from shelfwise.registry import model_names

    model = options.get("model")
    if model is not None and (not isinstance(model, str) or model not in model_names()):
        raise ValueError(f"{where}.model: unknown model {model!r}")
    diversity = options.get("diversity")
    if diversity is not None and (isinstance(diversity, bool) or not isinstance(diversity, int | float)
                                  or not 0 <= diversity <= 1):
        raise ValueError(f"{where}.diversity: must be a number in [0, 1] (the MMR lambda)")
    if options.get("explore") is not None and not isinstance(options["explore"], bool):
        raise ValueError(f"{where}.explore: must be true or false")
    types = options.get("exclude_types")
    if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)
                              or set(types) - set(EVENT_TYPES)):
        raise ValueError(f"{where}.exclude_types: a list of behaviours among {', '.join(EVENT_TYPES)}")
    if options.get("rules") is not None:
        try:
            RuleSet.model_validate(options["rules"])
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ValueError(f"{where}.rules.{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
