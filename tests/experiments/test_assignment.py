"""Assignment by HMAC-SHA256 of (salt, shopper id): deterministic, balanced within its
binomial error, independent between experiments; specs refused with the field named."""

from __future__ import annotations

import re

import numpy as np
import pytest

from shelfwise.experiments.assignment import Experiment, Variant, bucket, check_variants

USERS = [f"U{k:06d}" for k in range(20_000)]


def _experiment(shares, salt="00" * 16, traffic=1.0, kind="ab") -> Experiment:
    variants = tuple(Variant(f"v{k}", s) for k, s in enumerate(shares))
    return Experiment("e1", "test", kind, variants, salt, traffic)


def test_assignment_is_deterministic_and_keyed_by_the_salt():
    e = _experiment([0.5, 0.5], salt="ab" * 16)
    first = [e.variant_of(u).name for u in USERS[:500]]
    again = _experiment([0.5, 0.5], salt="ab" * 16)
    assert [again.variant_of(u).name for u in USERS[:500]] == first
    # a known value: HMAC-SHA256(key=bytes(16), b"U000000")'s first 8 bytes over 2**64
    import hashlib
    import hmac

    digest = hmac.new(bytes(16), b"U000000", hashlib.sha256).digest()
    assert bucket("00" * 16, "U000000") == int.from_bytes(digest[:8], "big") / 2 ** 64


@pytest.mark.parametrize("shares", [[0.5, 0.5], [0.2, 0.3, 0.5]])
def test_assignment_is_balanced_within_its_binomial_error(shares):
    e = _experiment(shares)
    names = np.array([e.variant_of(u).name for u in USERS])
    n = len(USERS)
    for k, share in enumerate(shares):
        count = int((names == f"v{k}").sum())
        sd = np.sqrt(n * share * (1 - share))
        assert abs(count - n * share) < 4 * sd, (k, count)


def test_traffic_share_and_independence_between_experiments():
    a = _experiment([0.5, 0.5], salt="11" * 16, traffic=0.3)
    inside = [u for u in USERS if a.variant_of(u) is not None]
    assert abs(len(inside) - 0.3 * len(USERS)) < 4 * np.sqrt(len(USERS) * 0.3 * 0.7)
    b = _experiment([0.5, 0.5], salt="22" * 16)
    in_a = np.array([a.variant_of(u).name == "v0" for u in inside])
    in_b = np.array([b.variant_of(u).name == "v0" for u in inside])
    # another salt splits the same shoppers afresh: being in v0 of one says nothing of the other
    assert abs(np.corrcoef(in_a, in_b)[0, 1]) < 4 / np.sqrt(len(inside))


def test_every_interleaving_shopper_sees_both():
    e = _experiment([0.5, 0.5], kind="interleave", traffic=0.5)
    assert {e.variant_of(u).name for u in USERS[:200] if e.variant_of(u)} == {"v0"}


@pytest.mark.parametrize("kind, variants, field", [
    ("ab", [{"name": "a"}], "variants"),
    ("ab", [{"name": "a"}, {"name": "a"}], "variants[1].name"),
    ("ab", [{"name": "a", "share": 0}, {"name": "b"}], "variants[0].share"),
    ("ab", [{"name": "a"}, {"name": "b", "options": {"model": "nope"}}], "variants[1].options.model"),
    ("ab", [{"name": "a"}, {"name": "b", "options": {"diversity": 2}}], "variants[1].options.diversity"),
    ("ab", [{"name": "a"}, {"name": "b", "options": {"exclude_types": [["x"]]}}], "variants[1].options.exclude_types"),
    ("ab", [{"name": "a"}, {"name": "b", "options": {"rules": {"max_per_brand": 0}}}], "variants[1].options.rules"),
    ("interleave", [{"name": "a"}, {"name": "b"}, {"name": "c"}], "variants"),
    ("interleave", [{"name": "a", "options": {"explore": True}}, {"name": "b"}], "variants[0].options.explore"),
    ("abc", [{"name": "a"}, {"name": "b"}], "kind"),
])
def test_a_bad_spec_names_its_field(kind, variants, field):
    with pytest.raises(ValueError, match="^" + re.escape(field)):
        check_variants(kind, variants)


def test_shares_are_normalised():
    got = check_variants("ab", [{"name": "a", "share": 0.2}, {"name": "b", "share": 0.6}])
    assert [v.share for v in got] == pytest.approx([0.25, 0.75])
