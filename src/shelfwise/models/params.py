"""Declarative hyper-parameter checks with one message shape everywhere, e.g.
``The 'k' parameter of ItemKNN must be an int in [1, inf). Got -3 instead.``"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real


class InvalidParameterError(ValueError):
    pass


@dataclass(frozen=True)
class Interval:
    kind: type  # int or float
    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right", "neither"
    allow_none: bool = False

    def accepts(self, v) -> bool:
        if v is None:
            return self.allow_none
        if isinstance(v, bool):
            return False
        if self.kind is int and not isinstance(v, Integral):
            return False
        if self.kind is float and not isinstance(v, Real):
            return False
        if isinstance(v, float) and math.isnan(v):
            return False
        lo_ok = self.low is None or (v >= self.low if self.closed in ("both", "left") else v > self.low)
        hi_ok = self.high is None or (v <= self.high if self.closed in ("both", "right") else v < self.high)
        return lo_ok and hi_ok

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        name = "an int" if self.kind is int else "a float"
        return f"{name} in {left}{lo}, {hi}{right}" + (" or None" if self.allow_none else "")


@dataclass(frozen=True)
class Options:
    values: frozenset

    def accepts(self, v) -> bool:
        return v in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(x) for x in sorted(self.values, key=str))


def check_params(owner: str, params: dict, constraints: dict) -> None:
    for name, rule in constraints.items():
        value = params[name]
        if not rule.accepts(value):
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {rule}. Got {value!r} instead.")
