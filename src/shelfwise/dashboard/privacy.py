"""The Privacy page: consent as stored, and every deletion (waiting for the refit without the
shopper, or complete) from the audit log, as ``Engine.privacy`` reports them. No shopper id is
shown: the audit rows hold none."""

from __future__ import annotations

from fastapi import Request

from shelfwise.dashboard.auth import Viewer
from shelfwise.dashboard.web import render, router


@router.get("/privacy")
def privacy(request: Request, session: Viewer):
    engine = request.app.state.engine
    return render(request, "privacy.html", session, page="privacy", report=engine.privacy())
