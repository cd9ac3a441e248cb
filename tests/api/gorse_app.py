"""The app a test server runs: shelfwise's, with Gorse's ``/api`` router included when the
app does not include it already (``uvicorn tests.api.gorse_app:create --factory``; settings
as JSON in ``SHELFWISE_SERVE_SETTINGS``, as ``shelfwise serve --workers`` passes them)."""

from __future__ import annotations

from fastapi import FastAPI

from shelfwise.api import gorse
from shelfwise.api.app import create_app_from_env


def create() -> FastAPI:
    app = create_app_from_env()
    included = any(getattr(r, "original_router", None) is gorse.router or getattr(r, "path", "") == "/api/user"
                   for r in app.routes)
    if not included:
        app.include_router(gorse.router)
    return app
