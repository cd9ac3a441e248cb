"""A training run started by the server never shows the store's password on a command line
(`ps` shows every process's arguments to every user of the machine); it gets the URL by
environment and trains from that store."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from shelfwise.config import Settings, masked_url
from shelfwise.engine import Engine
from shelfwise.online.training import run_version, start_training
from tests.store.conftest import _pg_admin

SECRET = "s3cret-Pw"


def test_the_training_child_takes_the_store_url_by_environment(tmp_path, small_shop):
    admin, url = _pg_admin()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        # trust auth ignores the password, so the URL works while carrying a secret to leak
        scheme, rest = url.split("://", 1)
        user, host = rest.split("@", 1)
        secret_url = f"{scheme}://{user}:{SECRET}@{host}?options=-csearch_path%3D{schema}"
        settings = Settings(home=tmp_path, store_url=secret_url)
        engine = Engine(settings)
        engine.ingest(small_shop.events)
        engine.close()
        proc, log = start_training(settings, ["popular"])
        assert SECRET not in " ".join(map(str, proc.args))
        assert proc.wait(timeout=120) == 0, log.read_text()
        engine = Engine(settings)  # it trained from the PostgreSQL store it was given
        assert engine.versions.active()["popular"] == run_version(log)
        assert engine.recommend(str(small_shop.user_ids[0]), 3, model="popular", log=False)
        engine.close()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_urls_are_masked_wherever_they_are_printed():
    assert masked_url(f"redis://:{SECRET}@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert masked_url(f"postgresql://shop:{SECRET}@db/shop") == "postgresql://shop:***@db/shop"
    assert masked_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"  # nothing to hide
