"""Gorse's feedback rows over the event log, and the side table for types that are not events.

Gorse keeps one row per (type, user, item). The log keeps every event, so reads collapse it
the same way: an event's Gorse type is the one the API stored in its context, or its
behaviour's name for an event that came in another way (``POST /events``, an import), and
of several events with one key the latest (by time, then arrival) is the row. Feedback of
negative and unknown types lives in ``gorse_feedback``, a table of the store's
(``store.tables``), one row per key; a key found in both places answers with the later row.

A ``Row`` is sorted and paged by its key (user id, item id, type); cursors carry that key.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from shelfwise.data.gorse import feedback_of_event, format_time
from shelfwise.engine import Engine
from shelfwise.store.fields import comment_aad, context_aad, reveal
from shelfwise.store.tables import events_table, side_feedback_table

side_feedback = side_feedback_table  # created with the store's other tables
_ready: weakref.WeakSet = weakref.WeakSet()  # SQLAlchemy engines whose side table exists
_EVENT_COLUMNS = (events_table.c.user_id, events_table.c.item_id, events_table.c.event_type,
                  events_table.c.timestamp, events_table.c.value, events_table.c.context, events_table.c.seq)


def sql_of(engine: Engine) -> sa.Engine:
    """The SQLAlchemy engine behind ``engine.store``, with the side table created."""
    sql = engine.store.engine
    if sql not in _ready:  # a store opened before the table existed in its schema
        side_feedback_table.create(sql, checkfirst=True)
        _ready.add(sql)
    return sql


@dataclass(frozen=True)
class Row:
    key: tuple[str, str, str]  # (user id, item id, Gorse type)
    timestamp: float
    order: int  # arrival order among a key's events (seq); side rows sort after events
    feedback: dict[str, Any]  # Gorse's Feedback JSON


def _from_events(rows, cipher) -> list[Row]:
    out = []
    for user, item, event_type, ts, value, context, seq in rows:
        context = reveal(cipher, context, context_aad(user))
        fb = feedback_of_event(user, item, event_type, ts, value, json.loads(context) if context else None)
        out.append(Row((user, item, fb["FeedbackType"]), ts, seq, fb))
    return out


def _from_side(rows, cipher) -> list[Row]:
    return [Row((r.user_id, r.item_id, r.feedback_type), r.timestamp, 1 << 62, {
        "FeedbackType": r.feedback_type, "UserId": r.user_id, "ItemId": r.item_id,
        "Value": float(r.value or 0.0), "Timestamp": format_time(r.timestamp),
        "Comment": reveal(cipher, r.comment, comment_aad(r.user_id)) or ""})
        for r in rows]


def collapse(rows: list[Row]) -> list[Row]:
    """One row per key, the latest (by time, then arrival); sorted by key."""
    best: dict[tuple, Row] = {}
    for row in rows:
        held = best.get(row.key)
        if held is None or (row.timestamp, row.order) >= (held.timestamp, held.order):
            best[row.key] = row
    return [best[k] for k in sorted(best)]


def _read(engine: Engine, event_where: list, side_where: list) -> list[Row]:
    e = events_table
    with sql_of(engine).connect() as conn:
        events = conn.execute(sa.select(*_EVENT_COLUMNS).where(e.c.item_id.is_not(None), *event_where)).all()
        side = conn.execute(sa.select(side_feedback).where(*side_where)).all()
    return collapse(_from_events(events, engine.store.cipher) + _from_side(side, engine.store.cipher))


def feedback_of(engine: Engine, user_id: str | None = None, item_id: str | None = None) -> list[Row]:
    """Every feedback row of a user, of an item, or between the two, sorted by key."""
    e, s = events_table, side_feedback
    event_where, side_where = [], []
    if user_id is not None:
        event_where.append(e.c.user_id == user_id)
        side_where.append(s.c.user_id == user_id)
    if item_id is not None:
        event_where.append(e.c.item_id == item_id)
        side_where.append(s.c.item_id == item_id)
    return _read(engine, event_where, side_where)


def seen_items(engine: Engine, user_id: str, until: float) -> set[str]:
    """Items the user has feedback on (any type) dated ``until`` or earlier: what Gorse
    leaves out of the user's recommendations."""
    e, s = events_table, side_feedback
    with sql_of(engine).connect() as conn:
        found = conn.execute(sa.select(e.c.item_id).distinct().where(
            e.c.user_id == user_id, e.c.item_id.is_not(None), e.c.timestamp <= until)).scalars().all()
        aside = conn.execute(sa.select(s.c.item_id).where(s.c.user_id == user_id, s.c.timestamp <= until)
                             ).scalars().all()
    return set(found) | set(aside)


def page_feedback(engine: Engine, start: tuple | None, n: int, feedback_type: str | None = None,
                  event_types: list[str] | None = None, until: float | None = None) -> tuple[list[Row], tuple | None]:
    """Up to ``n`` feedback rows from the key ``start`` on (None: the first), and the key
    the next page starts at (None at the end). ``feedback_type``: only that type (its events
    are among ``event_types``); ``until``: only rows dated then or earlier.

    Rows are collapsed per key, so pages walk (user, item) pairs: each round reads the next
    pairs from both sources, and all rows of those pairs."""
    e, s = events_table, side_feedback
    pair_e, pair_s = sa.tuple_(e.c.user_id, e.c.item_id), sa.tuple_(s.c.user_id, s.c.item_id)
    filter_e = [e.c.item_id.is_not(None)]
    filter_s = []
    if feedback_type is not None:
        filter_e.append(e.c.event_type.in_(event_types or []))
        filter_s.append(s.c.feedback_type == feedback_type)
    if until is not None:
        filter_e.append(e.c.timestamp <= until)
        filter_s.append(s.c.timestamp <= until)
    low, inclusive, out = (tuple(start[:2]) if start else None), True, []
    chunk = n + 1

    def pairs(conn, table, pair, where) -> list[tuple[str, str]]:
        """The next ``chunk`` (user, item) pairs of ``table`` after ``low``."""
        query = sa.select(table.c.user_id, table.c.item_id).distinct().where(*where)
        if low is not None:
            query = query.where(pair >= sa.tuple_(*low) if inclusive else pair > sa.tuple_(*low))
        query = query.order_by(table.c.user_id, table.c.item_id).limit(chunk)
        return [tuple(p) for p in conn.execute(query).all()]

    with sql_of(engine).connect() as conn:
        while len(out) <= n:
            got_e, got_s = pairs(conn, e, pair_e, filter_e), pairs(conn, s, pair_s, filter_s)
            if not got_e and not got_s:
                break
            # a source that filled its chunk may hold more pairs below the other's last one:
            # this round covers pairs up to the smallest such boundary
            full = [got[-1] for got in (got_e, got_s) if len(got) == chunk]
            high = min(full) if full else max(got_e[-1:] + got_s[-1:])
            first = min(got_e[:1] + got_s[:1])
            events = conn.execute(sa.select(*_EVENT_COLUMNS).where(
                *filter_e, pair_e >= sa.tuple_(*first), pair_e <= sa.tuple_(*high))).all()
            side = conn.execute(sa.select(side_feedback).where(
                *filter_s, pair_s >= sa.tuple_(*first), pair_s <= sa.tuple_(*high))).all()
            for row in collapse(_from_events(events, engine.store.cipher) + _from_side(side, engine.store.cipher)):
                wanted = feedback_type is None or row.key[2] == feedback_type
                if wanted and (start is None or row.key >= tuple(start)):
                    out.append(row)
            low, inclusive = high, False
    return out[:n], (out[n].key if len(out) > n else None)


def delete_feedback(engine: Engine, user_id: str, item_id: str, feedback_type: str | None = None) -> int:
    """Delete the feedback between a user and an item (of one type, or all); returns how
    many feedback rows (keys) were deleted."""
    e, s = events_table, side_feedback
    rows = feedback_of(engine, user_id, item_id)
    doomed = [r for r in rows if feedback_type is None or r.key[2] == feedback_type]
    if not doomed:
        return 0
    with sql_of(engine).begin() as conn:
        events = conn.execute(sa.select(*_EVENT_COLUMNS).where(e.c.user_id == user_id, e.c.item_id == item_id)).all()
        seqs = [r.order for r in _from_events(events, engine.store.cipher)
                if feedback_type is None or r.key[2] == feedback_type]
        if seqs:
            conn.execute(sa.delete(e).where(e.c.seq.in_(seqs)))
        side = sa.delete(s).where(s.c.user_id == user_id, s.c.item_id == item_id)
        conn.execute(side if feedback_type is None else side.where(s.c.feedback_type == feedback_type))
    return len(doomed)


def existing_events(engine: Engine, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (user id, event id) pairs of ``keys`` already stored."""
    e, found = events_table, set()
    with sql_of(engine).connect() as conn:
        for start in range(0, len(keys), 2000):
            chunk = keys[start:start + 2000]
            found.update(tuple(r) for r in conn.execute(sa.select(e.c.user_id, e.c.event_id).where(
                sa.tuple_(e.c.user_id, e.c.event_id).in_(chunk))).all())
    return found


def delete_events(engine: Engine, keys: list[tuple[str, str]]) -> None:
    """Delete events by (user id, event id): a PUT replaces the rows it overwrites."""
    e = events_table
    with sql_of(engine).begin() as conn:
        for start in range(0, len(keys), 2000):
            conn.execute(sa.delete(e).where(sa.tuple_(e.c.user_id, e.c.event_id).in_(keys[start:start + 2000])))


def upsert_side(engine: Engine, rows: list[dict[str, Any]], overwrite: bool) -> None:
    """Store feedback of types that are not events: rows with user_id, item_id,
    feedback_type, value, timestamp, comment. A stored key is kept unless ``overwrite``."""
    if not rows:
        return
    sql = sql_of(engine)
    insert = (postgresql.insert if sql.dialect.name == "postgresql" else sqlite.insert)(side_feedback)
    keys = ["user_id", "item_id", "feedback_type"]
    stmt = (insert.on_conflict_do_update(index_elements=keys, set_={
                c: insert.excluded[c] for c in ("value", "timestamp", "comment")})
            if overwrite else insert.on_conflict_do_nothing(index_elements=keys))
    cipher = engine.store.cipher
    if cipher is not None:  # a Gorse comment is free text: personal, like an event's context
        rows = [{**r, "comment": cipher.encrypt(r.get("comment"), comment_aad(r["user_id"]))} for r in rows]
    with sql.begin() as conn:
        conn.execute(stmt, rows)
