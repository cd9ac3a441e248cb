"""POST /events: one event or a batch, durable in the store before the answer."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from shelfwise.api.commit import plain_row
from shelfwise.api.deps import Write
from shelfwise.api.schemas import EventBatch, EventsBody, IngestOut, now

router = APIRouter(tags=["events"])


@router.post("/events", response_model=IngestOut, dependencies=[Write],
             summary="Store one event or a batch of up to 10,000")
async def post_events(body: EventsBody, request: Request) -> IngestOut:
    """Each accepted event is committed to the store before this answers, and has moved the
    online state (popularity counters, the shopper's recent items and cached lists). Single
    events that arrive together share one commit. Re-sending events with the same ids (given,
    or derived from their content) adds nothing."""
    app = request.app
    received = now()
    if not isinstance(body, EventBatch):
        added = await asyncio.wrap_future(app.state.commit.submit(body.row(received)))
        app.state.metrics.events.inc(added)
        return IngestOut(received=1, added=added, duplicates=1 - added)
    def ingest() -> tuple[int, int]:
        rows = [e.row(received) for e in body.events]  # off the event loop, as the rest
        plain = [plain_row(r) for r in rows]
        if all(p is not None for p in plain):  # the usual batch: no pandas frame to validate
            added = app.state.engine.store.append_event_tuples(plain)
            # which rows of a partly re-sent batch were new is not known: those move no counter
            if added:
                app.state.engine.accepted(rows, counted=added == len(rows))
        else:  # Engine.ingest has moved the online state itself: not a second time here
            added = app.state.engine.ingest(rows, on_error="fail").added
        return len(rows), added

    received, added = await run_in_threadpool(ingest)
    app.state.metrics.events.inc(added)
    return IngestOut(received=received, added=added, duplicates=received - added)
