"""Backends for the EventStore contract suite.

PostgreSQL: the server at SHELFWISE_TEST_PG_URL (default: the local one). Each test gets a
fresh schema, dropped afterwards. Without a server the PostgreSQL cases skip, unless
SHELFWISE_REQUIRE_POSTGRES=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

from shelfwise.store import open_store

PG_URL = os.environ.get("SHELFWISE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_admin():
    url = "postgresql+psycopg://" + PG_URL.split("://", 1)[1]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        if os.environ.get("SHELFWISE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but {PG_URL} does not answer: {exc}")
        pytest.skip(f"no PostgreSQL server at {PG_URL}")
    return engine, url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
        return
    admin, url = _pg_admin()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture
def store(store_url):
    s = open_store(store_url)
    yield s
    s.close()
