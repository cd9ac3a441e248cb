"""Reads and writes over the engine's store that the EventStore interface does not offer:
one user's or item's row, pages of users and items by id, item search and deletion, the
catalogue's category paths and Gorse timestamps, and users who share items.

Everything is SQLAlchemy Core over ``engine.store.engine`` and the tables of
``shelfwise.store.sql``; rows come back in the store's layout (``category`` a list,
``attributes`` a dict), as ``EventStore.items()`` gives them.
"""

from __future__ import annotations

import json
import math
from functools import partial
from typing import Any

import sqlalchemy as sa

from shelfwise.data.gorse import item_timestamp
from shelfwise.engine import Engine
from shelfwise.store.fields import attributes_aad, reveal
from shelfwise.store.sql import events_table, items_table, users_table

from .feedback_store import side_feedback, sql_of


def _user(row, cipher=None) -> dict[str, Any]:
    attributes = reveal(cipher, row.attributes, attributes_aad(row.user_id))
    return {"user_id": row.user_id, "attributes": json.loads(attributes) if attributes else {},
            "consent": bool(row.consent)}


def _item(row) -> dict[str, Any]:
    return {"item_id": row.item_id, "title": row.title, "description": row.description,
            "category": json.loads(row.category) if row.category else [], "brand": row.brand,
            "price": row.price, "attributes": json.loads(row.attributes) if row.attributes else {},
            "in_stock": bool(row.in_stock)}


def _rows(engine: Engine, table: sa.Table, key: str, ids: list[str]) -> dict[str, dict]:
    if not ids:
        return {}
    parse = partial(_user, cipher=engine.store.cipher) if table is users_table else _item
    out = {}
    with sql_of(engine).connect() as conn:
        for start in range(0, len(ids), 5000):  # bounded by SQLite's variables per statement
            chunk = list(ids[start:start + 5000])
            for row in conn.execute(sa.select(table).where(table.c[key].in_(chunk))):
                out[getattr(row, key)] = parse(row)
    return out


def user_rows(engine: Engine, user_ids: list[str]) -> dict[str, dict]:
    """{user id: profile row} for the ids that have one."""
    return _rows(engine, users_table, "user_id", user_ids)


def item_rows(engine: Engine, item_ids: list[str]) -> dict[str, dict]:
    """{item id: catalogue row} for the ids that have one."""
    return _rows(engine, items_table, "item_id", item_ids)


def page(engine: Engine, table: sa.Table, start: str | None, n: int,
         words: list[str] | None = None) -> tuple[list[dict], str | None]:
    """Up to ``n`` users or items (``table``) by id from ``start`` on, and the id the next page
    starts at (None on the last page). ``words``: only items whose id, title (Gorse's
    comment), description or categories hold every word (case-insensitive)."""
    key = table.c["user_id" if table is users_table else "item_id"]
    query = sa.select(table).order_by(key).limit(n + 1)
    if start is not None:
        query = query.where(key >= start)
    for word in words or []:
        query = query.where(sa.or_(*[sa.func.lower(table.c[col]).contains(word.lower(), autoescape=True)
                                     for col in ("item_id", "title", "description", "category")]))
    parse = partial(_user, cipher=engine.store.cipher) if table is users_table else _item
    with sql_of(engine).connect() as conn:
        rows = [parse(r) for r in conn.execute(query)]
    ident = key.name
    return rows[:n], (rows[n][ident] if len(rows) > n else None)


def delete_item(engine: Engine, item_id: str) -> None:
    """Delete an item and all feedback on it (its events and side rows), in one transaction."""
    with sql_of(engine).begin() as conn:
        conn.execute(sa.delete(items_table).where(items_table.c.item_id == item_id))
        conn.execute(sa.delete(events_table).where(events_table.c.item_id == item_id))
        conn.execute(sa.delete(side_feedback).where(side_feedback.c.item_id == item_id))


def delete_side_user(engine: Engine, user_id: str) -> int:
    """Delete a user's side-table feedback (``forget_user`` deletes the rest)."""
    with sql_of(engine).begin() as conn:
        return conn.execute(sa.delete(side_feedback).where(side_feedback.c.user_id == user_id)).rowcount


def category_paths(engine: Engine) -> list[tuple[str, ...]]:
    """The distinct category paths of the catalogue (a path is an item's Gorse categories)."""
    with sql_of(engine).connect() as conn:
        texts = conn.execute(sa.select(items_table.c.category).distinct()).scalars().all()
    paths = {tuple(json.loads(t)) for t in texts if t}
    return sorted(p for p in paths if p)


def latest(engine: Engine) -> list[tuple[str, float, tuple[str, ...]]]:
    """(item id, Gorse timestamp, categories) of every listed (not hidden) item that has a
    timestamp, newest first (ties by id): Gorse's latest items."""
    query = sa.select(items_table.c.item_id, items_table.c.category, items_table.c.attributes).where(
        items_table.c.in_stock.is_(True))
    out = []
    with sql_of(engine).connect() as conn:
        for item_id, category, attributes in conn.execute(query):
            ts = item_timestamp(json.loads(attributes) if attributes else None)
            if ts is not None:
                out.append((item_id, ts, tuple(json.loads(category)) if category else ()))
    out.sort(key=lambda r: (-r[1], r[0]))
    return out


def user_neighbours(engine: Engine, user_id: str, behaviours: list[str], n: int,
                    pool: int = 200) -> list[tuple[str, float]]:
    """Up to ``n`` (user id, cosine similarity) of the users whose items of ``behaviours``
    (the positive ones) overlap the user's most, best first (ties by id): Gorse's "related"
    user neighbours, from the store as it is now. The ``pool`` users sharing the most items
    are scored."""
    e = events_table
    positive = sa.and_(e.c.event_type.in_(behaviours), e.c.item_id.is_not(None))
    mine = sa.select(e.c.item_id).where(e.c.user_id == user_id, positive).distinct()
    common = sa.func.count(sa.distinct(e.c.item_id)).label("common")
    shared = (sa.select(e.c.user_id, common).where(positive, e.c.item_id.in_(mine), e.c.user_id != user_id)
              .group_by(e.c.user_id).order_by(common.desc(), e.c.user_id).limit(pool))
    with sql_of(engine).connect() as conn:
        size = conn.execute(sa.select(sa.func.count()).select_from(mine.subquery())).scalar() or 0
        counts = dict(conn.execute(shared).all())
        sizes = dict(conn.execute(sa.select(e.c.user_id, sa.func.count(sa.distinct(e.c.item_id)))
                                  .where(positive, e.c.user_id.in_(list(counts))).group_by(e.c.user_id)).all()
                     ) if counts else {}
    scores = [(u, c / math.sqrt(size * sizes[u])) for u, c in counts.items() if size and sizes.get(u)]
    scores.sort(key=lambda s: (-s[1], s[0]))
    return scores[:n]


def ping(engine: Engine) -> str | None:
    """None when the store answers, else why not."""
    try:
        with sql_of(engine).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return None
    except Exception as exc:  # any failure means "not ready", with its reason
        return str(exc).splitlines()[0]
