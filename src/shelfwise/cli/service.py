"""The service commands of ``shelfwise``: ``serve`` (the HTTP API) and ``keys`` (its API
keys). Registered on the app of ``shelfwise.cli.common``."""

from __future__ import annotations

import enum
from typing import Annotated

import typer
from rich.table import Table

from shelfwise.cli.common import (
    Config,
    Home,
    StoreUrl,
    _check_port,
    _engine,
    _fail,
    _settings,
    app,
    command,
    console,
    err,
)
from shelfwise.config import masked_url


@command()
def serve(host: Annotated[str | None, typer.Option(help="Address (default: settings serve.host).")] = None,
          port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port (default: serve.port).")] = None,
          workers: Annotated[int | None, typer.Option(
              min=1, max=64, help="Server processes (default: serve.workers); above 1 needs online.url.")] = None,
          home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Serve the HTTP API (needs the 'serve' extra) until Ctrl-C; with
    serve.retrain_every_minutes, start a training run in a separate process on that schedule."""
    import json
    import os

    from shelfwise.errors import MissingExtra

    try:
        import uvicorn

        from shelfwise.api.app import SETTINGS_ENV, create_app
    except ImportError as exc:
        raise MissingExtra("shelfwise serve", "serve", [exc.name or "fastapi"]) from None
    settings = _settings(home, store_url, config)
    host, port = host or settings.serve.host, settings.serve.port if port is None else port
    workers = workers or settings.serve.workers
    if workers > 1 and not settings.online.url:
        _fail(f"--workers {workers} needs a shared online state: set online.url to a redis:// URL "
              "(SHELFWISE_ONLINE__URL=redis://127.0.0.1:6379/0)")
    _check_port(host, port)
    schedule = None
    if settings.serve.retrain_every_minutes > 0:
        from shelfwise.online.training import Schedule

        schedule = Schedule(settings, settings.serve.retrain_every_minutes).start()
    from shelfwise.online.training import ForgetRefit

    privacy = settings.privacy
    refit = ForgetRefit(settings, privacy.forget_refit_delay_seconds, privacy.forget_refit_poll_seconds).start()
    console.print(f"serving {masked_url(settings.resolved_store_url)} on http://{host}:{port} (docs: /docs), "
                  f"{workers} worker(s), online state {masked_url(settings.online.url) or 'in process'}"
                  + (f", training every {settings.serve.retrain_every_minutes:g} min" if schedule else ""),
                  highlight=False)
    try:
        if workers == 1:
            uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
        else:  # each worker builds its app from the settings resolved here
            os.environ[SETTINGS_ENV] = json.dumps(settings.model_dump(mode="json"))
            uvicorn.run("shelfwise.api.app:create_app_from_env", factory=True, host=host, port=port,
                        workers=workers, log_level="warning")
    finally:
        refit.stop()
        if schedule is not None:
            schedule.stop()


keys_app = typer.Typer(help="API keys: create, list, revoke; shopper tokens.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
Scope = enum.StrEnum("Scope", {n: n for n in ("public", "read", "write", "admin")})  # api.keys.SCOPES


def _keys(home, store_url, config):
    from shelfwise.api.keys import KeyStore

    return KeyStore(_engine(home, store_url, config).store.engine)


@command("create", group=keys_app)
def keys_create(name: str, scope: Annotated[list[Scope], typer.Option(
                    "--scope", "-s", help="public, read, write or admin (repeatable).")],
                home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Create a key; it is printed once and stored only as a hash."""
    record, key = _keys(home, store_url, config).create(name, scope)
    err.print(f"created key {record.key_id} ({name}) with scopes {', '.join(sorted(record.scopes))}; "
              "keep it now, it is not shown again:", highlight=False)
    console.print(key, highlight=False)


@command("list", group=keys_app)
def keys_list(home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """List keys (ids, names, scopes; never the keys)."""
    table = Table()
    for column in ("id", "name", "scopes", "created", "revoked"):
        table.add_column(column)
    for k in _keys(home, store_url, config).list():
        table.add_row(k.key_id, k.name, " ".join(sorted(k.scopes)), _stamp(k.created),
                      _stamp(k.revoked) if k.revoked else "")
    console.print(table)


@command("revoke", group=keys_app)
def keys_revoke(key_id: str, home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Revoke a key by id: it stops working at once."""
    if not _keys(home, store_url, config).revoke(key_id):
        _fail(f"no live key with id {key_id!r}")
    console.print(f"revoked {key_id}")


@command("token", group=keys_app)
def keys_token(user_id: str,
               ttl: Annotated[float, typer.Option(
                   help="Seconds it lives (at most serve.token_max_ttl_seconds).")] = 3600.0,
               key_id: Annotated[str | None, typer.Option(
                   help="Id of the live key it answers to: revoking that key voids it (default: none).")] = None,
               home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """A shopper token for USER_ID: a browser sends it as its bearer to read that shopper's
    recommendations and their explanations, and nothing else, until it expires."""
    from shelfwise.api import tokens

    settings = _settings(home, store_url, config)
    if not 0 < ttl <= settings.serve.token_max_ttl_seconds:
        _fail(f"ttl: between 0 and {settings.serve.token_max_ttl_seconds:g} seconds (serve.token_max_ttl_seconds)")
    if key_id is not None and _keys(home, store_url, config).live(key_id) is None:
        _fail(f"key-id: no live key with id {key_id!r}")
    token, claims = tokens.issue(tokens.token_secret(settings), user_id.strip(), ttl, key_id or "")
    err.print(f"token for {claims.user_id!r}, valid until {_stamp(claims.expires)}:", highlight=False)
    console.print(token, highlight=False, soft_wrap=True)


def _stamp(epoch: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
