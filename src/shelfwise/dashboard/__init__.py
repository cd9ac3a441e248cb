"""The dashboard: server-rendered pages over the Engine at ``/dashboard``, served by the API.

    from shelfwise.dashboard import mount
    mount(app)  # in shelfwise.api.app.create_app

Pages: Overview, Models, Shoppers (with the what-if sandbox), Items, Rules, Marketing
(segments and campaigns), Experiments (A/B tests and interleaving), Privacy, Settings. Every
list a page shows comes from the Engine's one serving path; templates, scripts, styles and
the chart library (uPlot, MIT licence) are files of this package, never fetched elsewhere.
"""

from __future__ import annotations

import time

from shelfwise.dashboard import (  # noqa: F401 - each adds its pages to the router
    experiments,
    items,
    marketing,
    pages,
    privacy,
    rules,
    shoppers,
)
from shelfwise.dashboard.web import root, router


def mount(app) -> None:
    """Add the dashboard's pages to ``app`` (a ``create_app`` app: its engine, keys, metrics)."""
    app.state.dashboard_started = time.time()
    app.include_router(router)
    app.include_router(root)
