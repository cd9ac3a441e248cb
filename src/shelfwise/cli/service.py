"""The service commands of ``shelfwise``: ``serve`` (the HTTP API) and ``keys`` (its API
keys). Registered on the app of ``shelfwise.cli.common``."""

from __future__ import annotations

import enum
from pathlib import Path
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
from shelfwise.store import open_store
from shelfwise.store.fields import FieldCipher, check_readable


@command()
def serve(host: Annotated[str | None, typer.Option(help="Address (default: settings serve.host).")] = None,
          port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port (default: serve.port).")] = None,
          workers: Annotated[int | None, typer.Option(
              min=1, max=64, help="Server processes (default: serve.workers); above 1 needs online.url.")] = None,
          ssl_certfile: Annotated[Path | None, typer.Option(
              help="PEM certificate (chain): serve HTTPS (default: serve.ssl_certfile).")] = None,
          ssl_keyfile: Annotated[Path | None, typer.Option(
              help="PEM private key of the certificate (default: serve.ssl_keyfile).")] = None,
          home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Serve the HTTP API (needs the 'serve' extra) until Ctrl-C, over HTTPS when given a
    certificate; with serve.retrain_every_minutes, start a training run in a separate process
    on that schedule."""
    import json
    import os

    from shelfwise.errors import MissingExtra
    from shelfwise.privacy import retention

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
    tls = _tls(settings, ssl_certfile, ssl_keyfile)
    cipher = FieldCipher.from_settings(settings)  # a malformed or missing named key fails here
    with open_store(settings.resolved_store_url, cipher=cipher) as store:
        check_readable(store)  # and a wrong one here, before any request
    if cipher is None:
        err.print("warning: no data key configured: profile attributes and event context are stored in "
                  "plaintext (`shelfwise keys rotate-data-key` makes one)", highlight=False, soft_wrap=True)
    _check_port(host, port)
    schedule = None
    if settings.serve.retrain_every_minutes > 0:
        from shelfwise.online.training import Schedule

        schedule = Schedule(settings, settings.serve.retrain_every_minutes).start()
    from shelfwise.online.training import ForgetRefit

    privacy = settings.privacy
    refit = ForgetRefit(settings, privacy.forget_refit_delay_seconds, privacy.forget_refit_poll_seconds).start()
    chore = None
    if privacy.retention_every_minutes > 0 and retention.needed(privacy):
        chore = retention.Chore(open_store(settings.resolved_store_url), privacy).start()
    scheme = "https" if tls else "http"
    console.print(f"serving {masked_url(settings.resolved_store_url)} on {scheme}://{host}:{port} (docs: /docs), "
                  f"{workers} worker(s), online state {masked_url(settings.online.url) or 'in process'}"
                  + (f", training every {settings.serve.retrain_every_minutes:g} min" if schedule else ""),
                  highlight=False)
    level = "info" if settings.serve.access_log else "warning"  # uvicorn logs requests at info
    try:
        if workers == 1:
            uvicorn.run(create_app(settings), host=host, port=port, log_level=level,
                        access_log=settings.serve.access_log, **tls)
        else:  # each worker builds its app from the settings resolved here
            os.environ[SETTINGS_ENV] = json.dumps(settings.model_dump(mode="json"))
            uvicorn.run("shelfwise.api.app:create_app_from_env", factory=True, host=host, port=port,
                        workers=workers, log_level=level, access_log=settings.serve.access_log, **tls)
    finally:
        refit.stop()
        if chore is not None:
            chore.stop()
        if schedule is not None:
            schedule.stop()


def _tls(settings, certfile: Path | None, keyfile: Path | None) -> dict[str, str]:
    """uvicorn's TLS options from the command line, else the settings; {} for plain HTTP."""
    cert = str(certfile) if certfile else settings.serve.ssl_certfile
    key = str(keyfile) if keyfile else settings.serve.ssl_keyfile
    if bool(cert) != bool(key):
        _fail("--ssl-certfile and --ssl-keyfile go together: give both or neither")
    if not cert:
        return {}
    for option, path in (("--ssl-certfile", cert), ("--ssl-keyfile", key)):
        if not Path(path).is_file():
            _fail(f"{option}: {path} is not a readable file")
    import ssl

    try:  # a wrong pair fails here in one line, not in uvicorn's traceback
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        _fail(f"--ssl-certfile/--ssl-keyfile: cannot use {cert} with {key}: {exc.reason or exc}")
    return {"ssl_certfile": cert, "ssl_keyfile": key}


keys_app = typer.Typer(help="API keys: create, list, revoke; shopper tokens; the data key: rotate-data-key.",
                       no_args_is_help=True)
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


@command("rotate-data-key", group=keys_app)
def keys_rotate_data_key(batch: Annotated[int, typer.Option(min=1, max=1_000_000,
                                                            help="Rows re-encrypted per transaction.")] = 2000,
                         home: Home = None, store_url: StoreUrl = None, config: Config = None):
    """Re-encrypt every personal field under a new data key (the first run makes the key file,
    0600, and encrypts what was stored in plaintext). Crash-safe: run it again to resume."""
    from shelfwise.privacy.rotation import rotate_data_key

    engine = _engine(home, store_url, config)
    done = rotate_data_key(engine.settings, engine.store, batch=batch)
    retired = (f"; key(s) {', '.join(done.retired)} retired" if done.retired else "")
    console.print(f"data key {done.key_id} ({done.source}): re-encrypted {done.profiles} profile(s) and "
                  f"{done.contexts} event context(s)"
                  + (f" and {done.comments} feedback comment(s)" if done.comments else "")
                  + retired, highlight=False, soft_wrap=True)
    if done.retired and done.source.startswith("SHELFWISE"):
        err.print(f"now remove the retired key(s) from {done.source}", highlight=False)


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
