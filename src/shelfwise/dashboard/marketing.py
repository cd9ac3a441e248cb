"""The Marketing page: the shop's shopper segments (as ``GET /segments`` gives them) and its
campaigns with their incremental conversions (as ``GET /campaigns/{id}``); an editor plans a
campaign for a segment here (``POST /campaigns``)."""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from shelfwise.api.routes.marketing import CampaignPath
from shelfwise.dashboard.auth import Editor, Viewer, check_csrf
from shelfwise.dashboard.web import render, router
from shelfwise.errors import NoData, UnknownId
from shelfwise.privacy.pseudonyms import for_export

TOP_FEATURES = 4  # centroid features shown per segment


def segment_rows(seg) -> list[dict]:
    """Per segment: id, name, size, share and the centroid features furthest from the shop's
    mean (the size-weighted mean of the centroids), in the prepared 0-to-1 scale."""
    if seg is None:
        return []
    columns = seg.prep["columns"]
    centroids = np.asarray(seg.centroids, dtype=np.float64)
    sizes = np.array([s["size"] for s in seg.segments], dtype=np.float64)
    mean = sizes @ centroids / max(sizes.sum(), 1.0)
    rows = []
    for s in seg.segments:
        gap = centroids[s["id"]] - mean
        top = np.argsort(-np.abs(gap), kind="stable")[:TOP_FEATURES]
        rows.append({**s, "features": [{"name": columns[j], "value": float(centroids[s["id"]][j]),
                                         "gap": float(gap[j])} for j in top]})
    return rows


def campaign_rows(engine) -> list[dict]:
    """Every campaign with its result so far, newest first."""
    out = []
    for record in reversed(engine.store.list_campaigns()):
        try:
            out.append(engine.marketing.campaign(record["campaign_id"]))
        except (UnknownId, NoData):
            continue
    return out


@router.get("/marketing")
def marketing(request: Request, session: Viewer, done: str | None = None, error: str | None = None):
    engine = request.app.state.engine
    seg = engine.segments()
    return render(request, "marketing.html", session, page="marketing", seg=seg, segments=segment_rows(seg),
                  campaigns=campaign_rows(engine), done=done, error=error)


@router.post("/marketing/campaigns")
async def plan_campaign(request: Request, session: Editor):
    form = await check_csrf(request, session)
    engine = request.app.state.engine
    name = str(form.get("name", "")).strip()
    try:
        segment, budget = int(form.get("segment", "")), int(form.get("budget", ""))
        share = float(form.get("control_share", "0.2"))
    except ValueError:
        return _refused(request, session, engine, "segment, budget and control share must be numbers")
    if not name:
        return _refused(request, session, engine, "name: give the campaign a name")
    try:
        made = engine.marketing.create_campaign(name, {"segment": segment}, budget, share)
    except (ValueError, UnknownId, NoData) as exc:  # the message names the field
        return _refused(request, session, engine, str(exc).splitlines()[0])
    done = f"planned {made['name']}: {made['treatment']} shoppers to send it to, {made['control']} held out"
    return RedirectResponse(f"/dashboard/marketing?{urlencode({'done': done})}", status_code=303)


def _refused(request: Request, session, engine, message: str):
    """The page again, with why the campaign was not planned (a 422)."""
    seg = engine.segments()
    return render(request, "marketing.html", session, status=422, page="marketing", seg=seg,
                  segments=segment_rows(seg), campaigns=campaign_rows(engine), done=None, error=message)


@router.get("/marketing/campaigns/{campaign_id}/audience.csv")
def campaign_csv(request: Request, session: Viewer, campaign_id: CampaignPath) -> Response:
    """The treatment arm as ``GET /campaigns/{id}/audience.csv`` gives it, for a session."""
    engine = request.app.state.engine
    members = for_export(engine.marketing.campaign_members(campaign_id, "treatment"), engine.settings)
    return Response(members.to_csv(index=False), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.csv"'})
