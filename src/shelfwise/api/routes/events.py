"""POST /events: one event or a batch, durable in the store before the answer."""

from __future__ import annotations

from fastapi import APIRouter, Request

from shelfwise.api.deps import EngineDep, Write
from shelfwise.api.schemas import EventBatch, EventsBody, IngestOut, now

router = APIRouter(tags=["events"])


@router.post("/events", response_model=IngestOut, dependencies=[Write],
             summary="Store one event or a batch of up to 10,000")
def post_events(body: EventsBody, engine: EngineDep, request: Request) -> IngestOut:
    """Each accepted event is committed to the store before this answers. Re-sending events
    with the same ids (given, or derived from their content) adds nothing."""
    events = body.events if isinstance(body, EventBatch) else [body]
    received = now()
    report = engine.ingest([e.row(received) for e in events], on_error="fail")
    request.app.state.metrics.events.inc(report.added)
    return IngestOut(received=report.received, added=report.added, duplicates=report.duplicates)
