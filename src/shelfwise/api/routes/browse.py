"""Read routes over the store: items and shoppers listed with cursor paging and search, one
item, one shopper, a shopper's events. The dashboard's pages call the same functions.

A cursor is the last id of the page before (ids sort as text); ``next_cursor`` is None on
the last page. ``q`` keeps the rows whose id (or an item's title) holds it, in any case.
"""

from __future__ import annotations

import json
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query

from shelfwise.api.deps import EngineDep, Read
from shelfwise.api.schemas import IdPath
from shelfwise.errors import UnknownId
from shelfwise.store.fields import attributes_aad, reveal
from shelfwise.store.tables import events_table, items_table, users_table

router = APIRouter(tags=["browse"])
Search = Annotated[str | None, Query(max_length=255, description="text the id (or title) holds, any case")]
Cursor = Annotated[str | None, Query(max_length=255, description="next_cursor of the page before")]
Limit = Annotated[int, Query(ge=1, le=500, description="rows per page")]
ITEM_COLUMNS = ("item_id", "title", "category", "brand", "price", "in_stock")


def _contains(column, q: str):
    return sa.func.lower(column).contains(q.lower(), autoescape=True)


def _page(rows: list[dict], key: str, limit: int) -> tuple[list[dict], str | None]:
    return rows[:limit], (rows[limit - 1][key] if len(rows) > limit else None)


def _item(row) -> dict:
    out = {c: row._mapping[c] for c in ITEM_COLUMNS}
    out["category"] = json.loads(out["category"]) if out["category"] else []
    out["in_stock"] = bool(out["in_stock"])
    return out


def list_items(engine, q: str | None = None, cursor: str | None = None, limit: int = 50) -> dict:
    """{"items": [...], "next_cursor", "total": items matching ``q``}."""
    t = items_table.c
    where = sa.or_(_contains(t.item_id, q), _contains(t.title, q)) if q else sa.true()
    query = sa.select(*[t[c] for c in ITEM_COLUMNS]).where(where)
    if cursor:
        query = query.where(t.item_id > cursor)
    with engine.store.engine.connect() as conn:
        rows = conn.execute(query.order_by(t.item_id).limit(limit + 1)).all()
        total = conn.execute(sa.select(sa.func.count()).select_from(items_table).where(where)).scalar_one()
    items, after = _page([_item(r) for r in rows], "item_id", limit)
    return {"items": items, "next_cursor": after, "total": int(total)}


def behaviour_counts(engine, column, value: str) -> dict[str, int]:
    """{behaviour: events} of one shopper or item."""
    e = events_table.c
    with engine.store.engine.connect() as conn:
        rows = conn.execute(sa.select(e.event_type, sa.func.count()).where(column == value)
                            .group_by(e.event_type)).all()
    return {str(k): int(n) for k, n in sorted(rows)}


def get_item(engine, item_id: str) -> dict:
    """One catalogue entry with its events by behaviour; UnknownId when neither exists."""
    t = items_table.c
    with engine.store.engine.connect() as conn:
        row = conn.execute(sa.select(*[t[c] for c in ITEM_COLUMNS], t.description, t.attributes)
                           .where(t.item_id == item_id)).first()
    events = behaviour_counts(engine, events_table.c.item_id, item_id)
    if row is None and not events:
        raise UnknownId(f"Unknown item {item_id!r}: not in the catalogue and no events name it.")
    out = _item(row) if row is not None else {"item_id": item_id, **dict.fromkeys(ITEM_COLUMNS[1:])}
    out["description"] = row.description if row is not None else None
    out["attributes"] = json.loads(row.attributes) if row is not None and row.attributes else {}
    out["in_catalogue"] = row is not None
    return {**out, "events": events}


def list_users(engine, q: str | None = None, cursor: str | None = None, limit: int = 50) -> dict:
    """Shoppers with events: {"users": [{user_id, events, last_event}], "next_cursor", "total"}."""
    e = events_table.c
    where = _contains(e.user_id, q) if q else sa.true()
    query = (sa.select(e.user_id, sa.func.count().label("events"), sa.func.max(e.timestamp).label("last_event"))
             .where(where).group_by(e.user_id))
    if cursor:
        query = query.where(e.user_id > cursor)
    with engine.store.engine.connect() as conn:
        rows = conn.execute(query.order_by(e.user_id).limit(limit + 1)).all()
        total = conn.execute(sa.select(sa.func.count(sa.distinct(e.user_id))).where(where)).scalar_one()
    users = [{"user_id": r.user_id, "events": int(r.events), "last_event": float(r.last_event)} for r in rows]
    page, after = _page(users, "user_id", limit)
    return {"users": page, "next_cursor": after, "total": int(total)}


def get_user(engine, user_id: str) -> dict:
    """One shopper: profile, events by behaviour, first and last event; UnknownId when the
    store holds neither events nor a profile (a forgotten shopper)."""
    e, u = events_table.c, users_table.c
    with engine.store.engine.connect() as conn:
        profile = conn.execute(sa.select(u.attributes, u.consent).where(u.user_id == user_id)).first()
        span = conn.execute(sa.select(sa.func.min(e.timestamp), sa.func.max(e.timestamp))
                            .where(e.user_id == user_id)).first()
    events = behaviour_counts(engine, e.user_id, user_id)
    if profile is None and not events:
        raise UnknownId(f"Unknown shopper {user_id!r}: the store holds no events or profile of them.")
    attributes = reveal(engine.store.cipher, profile.attributes, attributes_aad(user_id)) if profile else None
    return {"user_id": user_id, "attributes": json.loads(attributes) if attributes else {},
            "consent": bool(profile.consent) if profile else None, "events": events,
            "n_events": sum(events.values()), "first_event": span[0], "last_event": span[1]}


def user_events(engine, user_id: str, cursor: int | None = None, limit: int = 100) -> dict:
    """The shopper's events, newest first: {"events": [...], "next_cursor"} (a cursor is the
    stored sequence number of the last event of the page before)."""
    e = events_table.c
    query = sa.select(e.seq, e.item_id, e.event_type, e.timestamp, e.session_id, e.value).where(e.user_id == user_id)
    if cursor is not None:
        query = query.where(e.seq < cursor)
    with engine.store.engine.connect() as conn:
        rows = conn.execute(query.order_by(e.seq.desc()).limit(limit + 1)).all()
    events = [{"seq": int(r.seq), "item_id": r.item_id, "event_type": r.event_type, "timestamp": float(r.timestamp),
               "session_id": r.session_id, "value": r.value} for r in rows]
    page, after = _page(events, "seq", limit)
    return {"user_id": user_id, "events": page, "next_cursor": str(after) if after is not None else None}


@router.get("/items", dependencies=[Read], summary="Items of the catalogue, by id, with search and paging")
def items(engine: EngineDep, q: Search = None, cursor: Cursor = None, limit: Limit = 50) -> dict:
    return list_items(engine, q, cursor, limit)


@router.get("/items/{item_id}", dependencies=[Read], summary="One item, with its events by behaviour")
def item(item_id: IdPath, engine: EngineDep) -> dict:
    return get_item(engine, item_id)


@router.get("/users", dependencies=[Read], summary="Shoppers with events, by id, with search and paging")
def users(engine: EngineDep, q: Search = None, cursor: Cursor = None, limit: Limit = 50) -> dict:
    return list_users(engine, q, cursor, limit)


@router.get("/users/{user_id}", dependencies=[Read], summary="One shopper: profile and events by behaviour")
def user(user_id: IdPath, engine: EngineDep) -> dict:
    return get_user(engine, user_id)


@router.get("/users/{user_id}/events", dependencies=[Read], summary="A shopper's events, newest first")
def events(user_id: IdPath, engine: EngineDep,
           cursor: Annotated[int | None, Query(ge=0, le=2**63 - 1,  # SQLite's integers end there
                                               description="next_cursor of the page before")] = None,
           limit: Limit = 100) -> dict:
    return user_events(engine, user_id, cursor, limit)
