"""Overview, Models and Settings pages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

from fastapi import HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, RedirectResponse

from shelfwise.api.keys import SCOPES
from shelfwise.api.routes.models import list_versions
from shelfwise.config import describe
from shelfwise.dashboard import figures
from shelfwise.dashboard.auth import Admin, Editor, Viewer, check_csrf
from shelfwise.dashboard.web import render, router
from shelfwise.models import MODELS
from shelfwise.online.training import run_version, start_training

VersionId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z-]+$")]
SECRET_URL = re.compile(r"(://[^:/@]+:)[^@]+@")


@router.get("/")
def overview(request: Request, session: Viewer):
    data = figures.overview(request.app.state.engine, request.app.state)
    return render(request, "overview.html", session, page="overview", data=data, data_json=json.dumps(data))


@router.get("/overview.json")
def overview_json(request: Request, session: Viewer):
    return JSONResponse(figures.overview(request.app.state.engine, request.app.state))


def training_state(request: Request) -> dict:
    """The last training run started by this process (as ``GET /models/training`` says it),
    with the end of its log."""
    proc = request.app.state.training
    if proc is None:
        return {"running": False, "started": False}
    code = proc.poll()
    log = Path(getattr(request.app.state, "training_log", "") or "")
    tail = log.read_text(errors="replace").splitlines()[-8:] if log.is_file() else []
    return {"started": True, "running": code is None, "returncode": code, "pid": proc.pid,
            "version": run_version(log) if code is not None else None, "log": tail}


@router.get("/models")
def models(request: Request, session: Viewer, confirm: str | None = None, version: str | None = None):
    engine = request.app.state.engine
    versions = list_versions(engine)
    if confirm not in (None, "activate", "train") or (confirm == "activate" and version not in
                                                      {v.version for v in versions}):
        raise HTTPException(422, "confirm: asks to activate a kept version or to train")
    report = figures.report(engine.settings.home)
    return render(request, "models.html", session, page="models", versions=versions, report=report,
                  report_json=json.dumps(report), serving=figures.serving(engine), training=training_state(request),
                  confirm=confirm, confirm_version=version, configured=list(engine.settings.models),
                  known=sorted(MODELS))


@router.post("/models/{version}/activate")
async def activate(request: Request, version: VersionId, session: Admin):
    await check_csrf(request, session)
    request.app.state.engine.versions.activate(version)  # UnknownId: 404
    return RedirectResponse(f"/dashboard/models?done=activated+{version}", status_code=303)


@router.post("/models/train")
async def train(request: Request, session: Editor):
    form = await check_csrf(request, session)
    names = [str(m) for m in form.getlist("models")]
    if not names:
        raise HTTPException(422, "models: choose at least one model to train")
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        raise HTTPException(422, f"models: unknown model(s) {unknown}")
    running = request.app.state.training
    if running is not None and running.poll() is None:
        raise HTTPException(409, f"a training run is in progress (pid {running.pid})")
    proc, log = start_training(request.app.state.engine.settings, names)
    request.app.state.training, request.app.state.training_log = proc, str(log)
    return RedirectResponse("/dashboard/models?done=training+started", status_code=303)


@router.get("/settings")
def settings(request: Request, session: Viewer):
    engine = request.app.state.engine
    s = engine.settings
    rows = _setting_rows(s)
    keys = request.app.state.keys.list() if session.can("admin") else None
    return render(request, "settings.html", session, page="settings", rows=rows, keys=keys, scopes=SCOPES,
                  created=None, error=None)


@router.post("/settings/keys")
async def create_key(request: Request, session: Admin):
    form = await check_csrf(request, session)
    name, scopes = str(form.get("name", "")).strip(), [str(s) for s in form.getlist("scopes")]
    try:
        record, key = request.app.state.keys.create(name, scopes)
    except ValueError as exc:
        field = "name" if "name" in str(exc) else "scopes"
        return _settings_again(request, session, None, f"{field}: {exc}", 422)
    return _settings_again(request, session, (record, key), None, 201)


def _settings_again(request, session, created, error, status):
    engine = request.app.state.engine
    s = engine.settings
    rows = _setting_rows(s)
    return render(request, "settings.html", session, status=status, page="settings", rows=rows,
                  keys=request.app.state.keys.list(), scopes=SCOPES, created=created, error=error)


def _setting_rows(s) -> list[tuple[str, str, str]]:
    """(setting, value as shown, where it came from) of the settings ``s``."""
    return [(name, _masked(value), origin)
            for name, value, origin in describe(home=s.home, store_url=s.store_url or None, config=s.config)]


def _masked(value):
    """A setting as shown: passwords inside URLs replaced by ***."""
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return SECRET_URL.sub(r"\1***@", text)
