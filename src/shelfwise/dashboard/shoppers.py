"""Shoppers: search, one shopper's history, their list with its reasons and the ranker's
feature contributions, the what-if sandbox, and forgetting a shopper.

Every list here is served by the Engine's one serving path, never logged as shown
(``log=False``: a look-up by the shop, not a list a shopper saw)."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import HTTPException, Query, Request
from fastapi.responses import RedirectResponse

from shelfwise.api.routes.browse import get_user, list_users, user_events
from shelfwise.api.schemas import IdPath
from shelfwise.dashboard.auth import Admin, Viewer, check_csrf
from shelfwise.dashboard.web import render, router, titles
from shelfwise.data.schemas import EVENT_TYPES
from shelfwise.errors import ModelUnavailable, NotTrained, UnknownId
from shelfwise.serving import Explainer, ListRequest

Text = Annotated[str | None, Query(max_length=255)]
LIST_N = 10
WHAT_IF_ROWS = 3


@router.get("/shoppers")
def shoppers(request: Request, session: Viewer, q: Text = None, cursor: Text = None, done: Text = None):
    found = list_users(request.app.state.engine, q or None, cursor or None, limit=25)
    return render(request, "shoppers.html", session, page="shoppers", q=q or "", found=found, done=done)


def served_rows(engine, served, contributions=None) -> list[dict]:
    """A served list as table rows: item, title, score, source, retriever ranks, reason, and
    the ranker's largest feature contributions (as bars: share of the largest magnitude in
    the whole list, so a contribution of 0.005 beside others of 5 draws as the sliver it is)."""
    names = titles(engine, [r.item_id for r in served.items])
    rows = []
    scale = 1e-12
    if contributions is not None and len(contributions):
        scale = max(float(contributions.drop(columns=["bias"], errors="ignore").abs().to_numpy().max()), scale)
    for k, r in enumerate(served.items):
        bars = []
        if contributions is not None and r.item_id in contributions.index:
            row = contributions.loc[r.item_id]
            top = row.abs().sort_values(ascending=False).index[:6]
            bars = [{"feature": c, "value": float(row[c]), "width": round(100 * abs(float(row[c])) / scale, 1)}
                    for c in top]
        rows.append({"position": k + 1, "item_id": r.item_id, "title": names.get(r.item_id, r.item_id),
                     "score": r.score, "source": r.source, "sources": r.sources, "reason": r.reason,
                     "model": r.model, "bars": bars})
    return rows


def what_if_events(query) -> list[tuple[str, str]]:
    """The test events of the what-if form: (item id, behaviour) per filled row; a 422 naming
    the field of a bad row."""
    out = []
    for k in range(1, WHAT_IF_ROWS + 1):
        item, kind = (query.get(f"item{k}") or "").strip(), query.get(f"type{k}") or "view"
        if not item:
            continue
        if len(item) > 255:
            raise HTTPException(422, f"item{k}: an item id is at most 255 characters")
        if kind not in EVENT_TYPES:
            raise HTTPException(422, f"type{k}: one of {', '.join(EVENT_TYPES)}; got {kind!r}")
        out.append((item, kind))
    return out


def changes(before: list[dict], after: list[dict]) -> list[dict]:
    """Item by item: each place of the what-if list with where the item stood before."""
    was = {r["item_id"]: r["position"] for r in before}
    out = []
    for r in after:
        old = was.get(r["item_id"])
        move = "new" if old is None else "same" if old == r["position"] else (
            f"up {old - r['position']}" if old > r["position"] else f"down {r['position'] - old}")
        out.append({**r, "was": old, "move": move})
    return out


@router.get("/shoppers/{user_id}")
def shopper(request: Request, user_id: IdPath, session: Viewer, confirm: Text = None):
    engine = request.app.state.engine
    try:
        profile = get_user(engine, user_id)
    except UnknownId:
        return render(request, "shopper_missing.html", session, status=404, page="shoppers", user_id=user_id)
    history = user_events(engine, user_id, limit=200)
    tests = what_if_events(request.query_params)
    try:
        served = engine.recommend(user_id, LIST_N, log=False, explore=False)
        contributions = Explainer(engine.pipeline).contributions(user_id, [r.item_id for r in served.items],
                                                                ListRequest(n=LIST_N, explore=False, log=False))
        sandbox = _what_if(engine, user_id, tests) if tests else None
    except (NotTrained, ModelUnavailable) as exc:  # nothing to serve yet: the history still shows
        served, contributions, sandbox, untrained = None, None, None, str(exc).splitlines()[0]
    else:
        untrained = None
    current = served_rows(engine, served, contributions) if served is not None else []
    try:
        portrait, portrait_note = engine.profile(user_id), None
    except UnknownId as exc:  # no events yet, or no consent (NoConsent): say which
        portrait, portrait_note = None, str(exc).splitlines()[0]
    names = titles(engine, [e["item_id"] for e in history["events"] if e["item_id"]])
    timeline = {"types": list(EVENT_TYPES), "t": [e["timestamp"] for e in reversed(history["events"])],
                "y": [EVENT_TYPES.index(e["event_type"]) for e in reversed(history["events"])]}
    return render(request, "shopper.html", session, page="shoppers", user=profile, history=history, names=names,
                  served=served, current=current, timeline_json=json.dumps(timeline), sandbox=sandbox,
                  tests=tests, rows=WHAT_IF_ROWS, types=EVENT_TYPES, confirm=confirm == "forget",
                  query=request.query_params, has_contributions=contributions is not None, untrained=untrained,
                  portrait=portrait, portrait_note=portrait_note)


def _what_if(engine, user_id: str, tests: list[tuple[str, str]]) -> dict:
    """The shopper's list from a sandbox copy of their events, before and after the test
    events (appended now, in order): served by ``recommend_events``, which stores nothing."""
    item_ids, types, times = engine.store.user_events(user_id)
    request = ListRequest(n=LIST_N, explore=False, log=False)
    # a minute apart after the shopper's latest event: the same moment for every feature
    # that counts time (a test at the wall clock would age the whole history at once)
    last = float(times.max()) if len(times) else time.time()
    before = engine.pipeline.recommend_events(list(item_ids), list(types), times, request)
    test_times = [last + 60.0 * (k + 1) for k in range(len(tests))]
    after = engine.pipeline.recommend_events([*item_ids, *(i for i, _ in tests)], [*types, *(t for _, t in tests)],
                                             [*times.tolist(), *test_times], dataclasses.replace(request))
    old, new = served_rows(engine, before), served_rows(engine, after)
    kept = {r["item_id"] for r in new}
    return {"rows": changes(old, new), "dropped": [r for r in old if r["item_id"] not in kept],
            "changed": [r["item_id"] for r in old] != [r["item_id"] for r in new]}


@router.post("/shoppers/{user_id}/forget")
async def forget(request: Request, user_id: IdPath, session: Admin):
    await check_csrf(request, session)
    engine = request.app.state.engine
    report = engine.forget_user(user_id, by=session.key.key_id)
    request.app.state.online.forget(user_id)  # as DELETE /users/{id}: every process sharing the state
    done = (f"forgot {user_id}: {report.events} event(s), {report.user_rows} profile row(s) and "
            f"{report.impressions} impression(s) deleted; out of every model after the next training run")
    return RedirectResponse(f"/dashboard/shoppers?{urlencode({'done': done})}", status_code=303)
