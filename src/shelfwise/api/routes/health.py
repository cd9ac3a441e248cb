"""GET /healthz (open) and GET /metrics (an admin key, unless ``metrics_public``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shelfwise.api.deps import AdminUnlessPublicMetrics, EngineDep

router = APIRouter(tags=["service"])


@router.get("/healthz", summary="Liveness, and which models are trained")
def healthz(engine: EngineDep, request: Request) -> dict:
    """``precomputed`` (with ``online.precompute_seconds``): lists this process's walker has
    gone through in its current pass, of how many, and its whole passes so far. ``forget``:
    deletions waiting for a training run without the shopper, the oldest one's age, and which
    serving models a deletion leaves exact at once (``exact``) or waiting for that run (``refit``)."""
    out = {"status": "ok", "models": engine.trained_models(), "forget": engine.forgetting.status()}
    if request.app.state.precompute is not None:
        out["precomputed"] = request.app.state.precompute.status()
    return out


@router.get("/metrics", summary="Prometheus metrics", dependencies=[Depends(AdminUnlessPublicMetrics())],
            response_class=PlainTextResponse)
def metrics(request: Request, engine: EngineDep) -> Response:
    m = request.app.state.metrics
    m.versions.clear()  # only the versions serving now
    for name, record in engine.model_records().items():
        m.models.labels(model=name).set(_epoch(record["trained_at"]))
        m.versions.labels(model=name, version=record["version"]).set(1)
        m.fit_seconds.labels(model=name).set(record["fit_s"])
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
