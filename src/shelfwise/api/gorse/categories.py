"""Gorse's category filter as a shelfwise rule.

Gorse's categories are a flat set per item; here they are the item's category path, so
"items in category c" are the items whose path has c at some level. A rule's
``include_categories`` keeps items whose path starts with one of its prefixes, so the filter
is the prefixes of the catalogue's paths cut just after the wanted categories:

    paths ("Beauty", "Skin care"), ("Sale", "Beauty")   category "Beauty"
    -> include_categories ["Beauty", "Sale > Beauty"]

For several categories (Gorse's ``?category=a&category=b``: items in all of them) a path is
cut after the last one it holds. The catalogue's distinct paths are read at most every few
seconds (and at once after this process changes the catalogue).
"""

from __future__ import annotations

from fastapi import Request

from shelfwise.ranking.catalogue import SEP
from shelfwise.ranking.rules import RuleSet

from .common import GorseError, cached, catalogue_key, engine_of
from .store import category_paths


def prefixes(paths: list[tuple[str, ...]], categories: list[str]) -> list[str]:
    """The path prefixes (``"a > b"``) that select the items holding every category."""
    wanted = set(categories)
    out = {SEP.join(p[:max(p.index(c) for c in wanted) + 1]) for p in paths if wanted <= set(p)}
    return sorted(out)


def category_rules(request: Request, categories: list[str]) -> RuleSet | bool | None:
    """The request's rule for ``categories``: None when there is no filter, False when no item
    has them all (the list is empty, as Gorse's cache for an unknown category)."""
    if not categories:
        return None
    paths = cached(catalogue_key(request, "paths"), lambda: category_paths(engine_of(request)))
    found = prefixes(paths, categories)
    return RuleSet(include_categories=found) if found else False


def request_categories(request: Request, category: str | None) -> list[str]:
    """Gorse's categories of a request: every ``?category=``, else the path's."""
    given = [c for c in request.query_params.getlist("category") or [category or ""] if c]
    if any(len(c) > 255 for c in given):
        raise GorseError(400, "category: at most 255 characters")
    return given


def in_categories(path: tuple[str, ...], categories: list[str]) -> bool:
    return set(categories) <= set(path)
