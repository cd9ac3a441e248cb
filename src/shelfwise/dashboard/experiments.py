"""The Experiments page: every experiment, newest first, with its per-variant statistics and
sample-ratio check as ``GET /experiments/{id}`` gives them."""

from __future__ import annotations

from fastapi import Request

from shelfwise.dashboard.auth import Viewer
from shelfwise.dashboard.web import render, router

SHOWN = 20  # experiments with statistics on the page (each reads its impression log)


@router.get("/experiments")
def experiments(request: Request, session: Viewer):
    engine = request.app.state.engine
    listed = list(reversed(engine.experiments.all()))
    rows = [engine.experiments.status(e.experiment_id) for e in listed[:SHOWN]]
    return render(request, "experiments.html", session, page="experiments", experiments=rows,
                  more=max(0, len(listed) - SHOWN))
