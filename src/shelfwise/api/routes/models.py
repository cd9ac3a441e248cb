"""GET /models (what is trained) and POST /models/train (a training run in another process:
serving never fits a model)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from shelfwise.api.deps import Admin, EngineDep, Read
from shelfwise.api.schemas import ModelOut, VersionOut
from shelfwise.models import MODELS
from shelfwise.online.training import run_version, start_training

router = APIRouter(tags=["models"])


class TrainIn(BaseModel):
    models: list[str] = Field(default_factory=list, max_length=len(MODELS),
                              description="models to train; empty: the configured list")


@router.get("/models", response_model=list[ModelOut], dependencies=[Read], summary="Serving models")
def list_models(engine: EngineDep) -> list[ModelOut]:
    return [ModelOut(name=name, version=r["version"], trained_at=r["trained_at"], fit_s=r["fit_s"],
                     default=name == engine.settings.default_model)
            for name, r in engine.model_records().items()]


@router.get("/models/versions", response_model=list[VersionOut], dependencies=[Read],
            summary="Kept training runs, newest first")
def list_versions(engine: EngineDep) -> list[VersionOut]:
    active = engine.versions.active()
    out = []
    for version in reversed(engine.versions.list_versions()):
        run = engine.versions.run(version)
        out.append(VersionOut(version=version, trained_at=run["trained_at"], models=sorted(run["models"]),
                              serving=sorted(n for n, v in active.items() if v == version),
                              n_users=run["n_users"], n_items=run["n_items"], n_events=run["n_events"],
                              check=run.get("check")))
    return out


@router.post("/models/{version}/activate", dependencies=[Admin],
             summary="Serve every model of a version from it (rollback)")
def activate(version: Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z-]+$")],
             engine: EngineDep) -> dict:
    """Atomic: each request is answered by the old version or the new one."""
    return {"active": engine.versions.activate(version)}


@router.post("/models/train", status_code=202, dependencies=[Admin],
             summary="Start a training run in a separate process")
def train(body: TrainIn, engine: EngineDep, request: Request) -> dict:
    """Answers at once. The run checks each new model on the hold-out and activates those
    that pass; ``GET /models/training`` and ``GET /models/versions`` tell the verdict."""
    unknown = sorted(set(body.models) - set(MODELS))
    if unknown:
        raise HTTPException(422, f"models: unknown model(s) {unknown}; known: {', '.join(sorted(MODELS))}")
    running = request.app.state.training
    if running is not None and running.poll() is None:
        raise HTTPException(409, f"a training run is in progress (pid {running.pid})")
    proc, log = start_training(engine.settings, body.models)
    request.app.state.training = proc
    request.app.state.training_log = str(log)
    return {"started": True, "pid": proc.pid, "models": body.models or list(engine.settings.models),
            "log": str(log)}


@router.get("/models/training", dependencies=[Admin], summary="The last training run started here")
def training_status(request: Request, engine: EngineDep) -> dict:
    """``check``: per model, its hold-out score beside the active one's, and whether it serves."""
    proc = request.app.state.training
    if proc is None:
        return {"running": False, "pid": None, "returncode": None, "log": None, "version": None, "check": None}
    code = proc.poll()
    version = run_version(request.app.state.training_log) if code is not None else None
    check = engine.versions.run(version).get("check") if version else None
    return {"running": code is None, "pid": proc.pid, "returncode": code,
            "log": request.app.state.training_log, "version": version, "check": check}
