"""Recommendations, similar items, popular lists and explanations, all from the Engine's one
serving path.

When the asked-for model cannot answer (not trained, or its files cannot be loaded here) the
popular list answers instead; the response says why in ``fallback``, the failure is logged
and ``/metrics`` counts it. Any other error of a model is a server error, not hidden.
"""

from __future__ import annotations

import enum
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import StringConstraints, ValidationError

from shelfwise.api.deps import EngineDep, Public, ReadOrShopper
from shelfwise.api.online import list_key, served_from_cache
from shelfwise.api.schemas import ExplanationOut, IdPath, RecommendationsOut, Scored
from shelfwise.data.rules import RuleSet
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.engine import Engine
from shelfwise.errors import ModelUnavailable, NotTrained
from shelfwise.registry import model_names
from shelfwise.serving import Context, ServedList

router = APIRouter(tags=["recommendations"])
log = logging.getLogger("shelfwise.api")
N = Annotated[int, Query(ge=1, le=1000, description="list length")]
ModelChoice = enum.StrEnum("ModelChoice", {name: name for name in model_names()})
ModelName = Annotated[ModelChoice | None, Query(description="model; default: the configured one")]


def _name(model: ModelChoice | None) -> str | None:
    return None if model is None else model.value


def _answer(served: ServedList, fallback: str | None = None, **ids) -> RecommendationsOut:
    return RecommendationsOut(recommendation_id=served.recommendation_id, model=served.model,
                              version=served.version, fallback=fallback or served.fallback,
                              personalised=served.personalised, experiment=served.experiment,
                              variant=served.variant, items=[
        Scored(item_id=r.item_id, score=r.score, model=r.model, reason=r.reason, source=r.source,
               sources=r.sources, propensity=r.propensity, team=r.team) for r in served.items], **ids)


def with_fallback(engine: Engine, metrics, wanted: str, n: int, call) -> tuple[ServedList, str | None]:
    """Run ``call``; when the model cannot answer (not trained, or not loadable here), the
    popular list and why, logged and counted."""
    try:
        return call(), None
    except NotTrained:
        reason = f"model {wanted!r} is not trained"
    except ModelUnavailable as exc:
        log.error("%s; serving the popular list", exc)
        metrics.model_failures.labels(model=wanted).inc()
        reason = str(exc)
    try:
        return engine.popular(n), reason
    except (NotTrained, ModelUnavailable):
        raise HTTPException(503, "no trained models yet: train first (POST /models/train)") from None


def list_payload(engine: Engine, metrics, user_id: str, n: int, model: str | None, log: bool = True,
                 **options) -> bytes:
    """The JSON body of ``GET /users/{user_id}/recommendations`` (also what the cache
    warmer stores, so a warmed list is byte for byte what the route would answer)."""
    wanted = model or engine.settings.default_model
    served, reason = with_fallback(engine, metrics, wanted, n,
                                   lambda: engine.recommend(user_id, n, model, log=log, **options))
    reason = reason or served.fallback
    if reason is not None:
        metrics.count_fallback(reason)
    return _answer(served, reason, user_id=user_id).model_dump_json().encode()


IdList = Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=255)]] | None,
                   Query(max_length=100)]


class ListOptions:
    """Query parameters that shape a shopper's list: exclusion, diversity, exploration, the
    page the shopper is on (for new shoppers) and business rules added to the shop's own."""

    def __init__(self, exclude_types: Annotated[str | None, Query(
                     max_length=200, pattern=r"^[a-z_,]*$",
                     description="behaviours whose items are not shown again, comma-separated "
                                 "(default: the shop's setting; empty: none)")] = None,
                 diversity: Annotated[float | None, Query(
                     ge=0, le=1, description="MMR lambda; 1 = relevance only")] = None,
                 explore: Annotated[bool | None, Query(
                     description="fill the last slot from the category bandit")] = None,
                 category: Annotated[str | None, Query(
                     max_length=255, description="the category page a new shopper is on")] = None,
                 query: Annotated[str | None, Query(
                     max_length=255, description="a new shopper's search query")] = None,
                 include_category: IdList = None, exclude_category: IdList = None,
                 min_price: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
                 max_price: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
                 max_per_brand: Annotated[int | None, Query(ge=1, le=1000)] = None,
                 hidden: IdList = None):
        if exclude_types is not None:
            types = [t for t in exclude_types.split(",") if t]
            unknown = sorted(set(types) - set(EVENT_TYPES))
            if unknown:
                raise HTTPException(422, f"exclude_types: unknown behaviour(s) {unknown}; "
                                         f"known: {', '.join(EVENT_TYPES)}")
            exclude_types = types
        given = {"include_categories": include_category, "exclude_categories": exclude_category,
                 "min_price": min_price, "max_price": max_price, "max_per_brand": max_per_brand,
                 "hidden_items": hidden}
        try:
            rules = RuleSet(**{k: v for k, v in given.items() if v is not None})
        except ValidationError as exc:
            err = exc.errors()[0]
            raise HTTPException(422, f"{'.'.join(map(str, err['loc'])) or 'rules'}: {err['msg']}") from None
        self.kwargs = {"exclude_types": exclude_types, "diversity": diversity, "explore": explore,
                       "rules": rules if any(v is not None for v in given.values()) else None,
                       "context": Context(category=category, query=query) if category or query else None}

    def cache_key(self) -> str | None:
        """None when every option is left to the shop's settings (the plain request the
        cache answers before routing), else the options as JSON."""
        k = self.kwargs
        if all(v is None for v in k.values()):
            return None
        return json.dumps({"exclude_types": k["exclude_types"], "diversity": k["diversity"],
                           "explore": k["explore"],
                           "rules": k["rules"].model_dump(mode="json") if k["rules"] else None,
                           "context": vars(k["context"]) if k["context"] else None}, sort_keys=True)


@router.get("/users/{user_id}/recommendations", response_model=RecommendationsOut, dependencies=[ReadOrShopper],
            summary="Top-n items for a shopper")
def recommend(user_id: IdPath, request: Request, options: Annotated[ListOptions, Depends()],
              n: N = 10, model: ModelName = None):
    """The shopper's list from their events as they are now. Shoppers with no events (new,
    or forgotten) get popular items (in the ``category`` or matching the ``query`` when
    given), with ``fallback`` saying so. Out-of-stock and hidden items are never listed.
    Lists are cached in the online state (``online.cache_seconds``) until the shopper's next
    event, a model activation, or the end of that time; lists with an exploration slot are
    not cached (each request draws its own). Every list is written to the impression log
    under its ``recommendation_id``."""
    app = request.app
    engine: Engine = app.state.engine
    name = _name(model)
    wanted = name or engine.settings.default_model
    explore = engine.settings.explore if options.kwargs["explore"] is None else options.kwargs["explore"]
    seconds = 0 if explore else engine.settings.online.cache_seconds
    if seconds > 0:
        key = list_key(engine, "recommend", n=n, model=wanted, options=options.cache_key())
        generation, payload = app.state.online.cached(user_id, key)
        if payload is not None:
            served_from_cache(app, user_id, payload)
            return Response(payload, media_type="application/json")
    payload = list_payload(engine, app.state.metrics, user_id, n, name, **options.kwargs)
    # an experiment's variant may turn the exploration slot on: such a list is not cached either
    if seconds > 0 and b'"source":"explore"' not in payload:
        app.state.online.cache(user_id, key, generation, payload, seconds)
    return Response(payload, media_type="application/json")


@router.get("/items/{item_id}/similar", response_model=RecommendationsOut, dependencies=[Public],
            summary="Items similar to an item")
def similar(item_id: IdPath, engine: EngineDep, n: N = 10, model: ModelName = None):
    return _similar(engine, item_id, n, _name(model) or engine.settings.default_model)


@router.get("/items/{item_id}/bought-together", response_model=RecommendationsOut, dependencies=[Public],
            summary="Items often bought with an item (association rules)")
def bought_together(item_id: IdPath, engine: EngineDep, n: N = 10):
    return _similar(engine, item_id, n, "rules")


def _similar(engine: Engine, item_id: str, n: int, model: str) -> RecommendationsOut:
    # UnknownId (404) and NotTrained (409) are mapped once, in the app's error handlers
    try:
        recs = engine.similar(item_id, n, model)
    except ValueError as exc:  # the model answers no similar-item queries
        raise HTTPException(422, f"model: {exc}") from None
    return _answer(recs, item_id=item_id)


@router.get("/recommendations/popular", response_model=RecommendationsOut, dependencies=[Public],
            summary="The shop's most popular items")
def popular(engine: EngineDep, n: N = 10):
    try:
        return _answer(engine.popular(n))
    except NotTrained:
        raise HTTPException(503, "no trained models yet: train first (POST /models/train)") from None


@router.get("/users/{user_id}/recommendations/{item_id}/explain", response_model=ExplanationOut,
            dependencies=[ReadOrShopper], summary="Why an item is recommended to a shopper")
def explain(user_id: IdPath, item_id: IdPath, engine: EngineDep, options: Annotated[ListOptions, Depends()],
            model: ModelName = None):
    """Why the item is, or is not, in the list this shopper is served now under the same
    options (same events, same model version), with the reason that list gives it."""
    kwargs = {k: v for k, v in options.kwargs.items() if k != "explore"}
    reasons = engine.explain(user_id, item_id, _name(model), **kwargs)
    return ExplanationOut(user_id=user_id, item_id=item_id, reasons=reasons)
