"""Recommendations, similar items, popular lists and explanations.

When the asked-for model cannot answer (not trained, or it fails) the popular list answers
instead; the response says so in ``fallback`` and ``/metrics`` counts it.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from shelfwise.api.deps import EngineDep, Read
from shelfwise.api.online import list_key
from shelfwise.api.schemas import ExplanationOut, RecommendationsOut, Scored
from shelfwise.engine import Engine, Recommendation
from shelfwise.errors import NotTrained
from shelfwise.models import MODELS

router = APIRouter(tags=["recommendations"])
log = logging.getLogger("shelfwise.api")
IdPath = Annotated[str, Path(min_length=1, max_length=255)]
N = Annotated[int, Query(ge=1, le=1000, description="list length")]
ModelName = Annotated[str | None, Query(max_length=64, description="model; default: the configured one")]


def _check_model(model: str | None) -> None:
    if model is not None and model not in MODELS:
        raise HTTPException(422, f"model: unknown model {model!r}; known: {', '.join(sorted(MODELS))}")


def _answer(recs: list[Recommendation], model: str, fallback: str | None = None, **ids) -> RecommendationsOut:
    return RecommendationsOut(model=model, fallback=fallback, items=[
        Scored(item_id=r.item_id, score=r.score, model=r.model, reason=r.reason) for r in recs], **ids)


def _with_fallback(request: Request, engine: Engine, wanted: str, call) -> tuple[list, str | None]:
    """Run ``call``; if the model cannot answer, the popular list and the reason."""
    try:
        return call(), None
    except NotTrained:
        reason = f"model {wanted!r} is not trained"
    except Exception:  # a model failing must not take the shop's page down with it
        log.exception("model %s failed; serving the popular list", wanted)
        reason = f"model {wanted!r} failed"
    try:
        return engine.popular(request.state.n), reason
    except NotTrained:
        raise HTTPException(503, "no trained models yet: train first (POST /models/train)") from None


@router.get("/users/{user_id}/recommendations", response_model=RecommendationsOut, dependencies=[Read],
            summary="Top-n items for a shopper")
async def recommend(user_id: IdPath, request: Request, n: N = 10, model: ModelName = None):
    """Shoppers the trained models do not know (new, or forgotten) get the popular list, with
    ``fallback`` saying so. Lists are cached in the online state (``online.cache_seconds``)
    until the shopper's next event, a model activation, or the end of that time."""
    _check_model(model)
    app = request.app
    engine: Engine = app.state.engine
    wanted = model or engine.settings.default_model
    seconds = engine.settings.online.cache_seconds
    if seconds > 0:
        key = list_key(engine, "recommend", n=n, model=wanted)
        generation, payload = app.state.online.cached(user_id, key)
        if payload is not None:
            app.state.metrics.cache_hits.inc()
            if b'"fallback":null' not in payload:
                _count_fallback(request, json.loads(payload)["fallback"])
            return Response(payload, media_type="application/json")
    request.state.n = n

    def compute() -> bytes:
        recs, reason = _with_fallback(request, engine, wanted, lambda: engine.recommend(user_id, n, model))
        if reason is None and recs and recs[0].reason is not None:  # the whole list is a fallback
            reason = recs[0].reason
        if reason is not None:
            _count_fallback(request, reason)
        return _answer(recs, wanted, reason, user_id=user_id).model_dump_json().encode()

    payload = await run_in_threadpool(compute)
    if seconds > 0:
        app.state.online.cache(user_id, key, generation, payload, seconds)
    return Response(payload, media_type="application/json")


def _count_fallback(request: Request, reason: str) -> None:
    request.app.state.metrics.count_fallback(reason)


@router.get("/items/{item_id}/similar", response_model=RecommendationsOut, dependencies=[Read],
            summary="Items similar to an item")
def similar(item_id: IdPath, engine: EngineDep, n: N = 10, model: ModelName = None):
    _check_model(model)
    return _similar(engine, item_id, n, model or engine.settings.default_model)


@router.get("/items/{item_id}/bought-together", response_model=RecommendationsOut, dependencies=[Read],
            summary="Items often bought with an item (association rules)")
def bought_together(item_id: IdPath, engine: EngineDep, n: N = 10):
    return _similar(engine, item_id, n, "rules")


def _similar(engine: Engine, item_id: str, n: int, model: str) -> RecommendationsOut:
    # UnknownId (404) and NotTrained (409) are mapped once, in the app's error handlers
    try:
        recs = engine.similar(item_id, n, model)
    except ValueError as exc:  # the model answers no similar-item queries
        raise HTTPException(422, f"model: {exc}") from None
    return _answer(recs, model, item_id=item_id)


@router.get("/recommendations/popular", response_model=RecommendationsOut, dependencies=[Read],
            summary="The shop's most popular items")
def popular(engine: EngineDep, n: N = 10):
    try:
        return _answer(engine.popular(n), "popular")
    except NotTrained:
        raise HTTPException(503, "no trained models yet: train first (POST /models/train)") from None


@router.get("/users/{user_id}/recommendations/{item_id}/explain", response_model=ExplanationOut,
            dependencies=[Read], summary="Why an item is recommended to a shopper")
def explain(user_id: IdPath, item_id: IdPath, engine: EngineDep, model: ModelName = None):
    _check_model(model)
    reasons = engine.explain(user_id, item_id, model)
    return ExplanationOut(user_id=user_id, item_id=item_id, reasons=reasons)
