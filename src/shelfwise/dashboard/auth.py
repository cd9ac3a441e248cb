"""Dashboard sessions: an API key is exchanged at the login form for a signed session cookie.

The cookie holds the key's id, a CSRF token and an expiry, signed with HMAC-SHA256 under a
server secret kept in the home (``dashboard.secret``, made once with mode 0600, shared by
every process serving that home). The key itself is never stored: each request re-reads the
key's record by id, so a revoked key ends its sessions at once and its scopes decide the role.

Roles from scopes: ``admin`` -> admin (forgets shoppers, manages keys, activates versions),
``write`` -> editor (changes rules, starts training), ``read`` -> viewer (reads only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, HTTPException, Request

from shelfwise.api.keys import ApiKey, keys_table
from shelfwise.api.tokens import secret_file

COOKIE = "shelfwise_session"
SESSION_SECONDS = 12 * 3600
# bandit B105: a file name, not a password
SECRET_FILE = "dashboard.secret"  # nosec B105
ROLES = ("viewer", "editor", "admin")


def role_of(key: ApiKey) -> str | None:
    """The dashboard role a key's scopes give, None for none."""
    if key.revoked is not None:
        return None
    if "admin" in key.scopes:
        return "admin"
    if "write" in key.scopes:
        return "editor"
    return "viewer" if "read" in key.scopes else None


def server_secret(home: str | Path) -> bytes:
    """The home's signing secret, made on first use (readable by its owner only)."""
    return secret_file(Path(home) / SECRET_FILE)


@dataclass(frozen=True)
class Session:
    key: ApiKey
    role: str
    csrf: str

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _sign(secret: bytes, body: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode().rstrip("=")


def make_cookie(secret: bytes, key_id: str) -> str:
    body = base64.urlsafe_b64encode(json.dumps(
        {"kid": key_id, "csrf": secrets.token_urlsafe(24), "exp": int(time.time()) + SESSION_SECONDS}).encode())
    return f"{body.decode()}.{_sign(secret, body)}"


def read_cookie(secret: bytes, value: str) -> dict | None:
    """The cookie's payload when its signature holds and it has not expired, else None."""
    body, _, signature = value.partition(".")
    if not body or not hmac.compare_digest(_sign(secret, body.encode()), signature):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("exp", 0) > time.time() else None


def key_by_id(engine: sa.Engine, key_id: str) -> ApiKey | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(keys_table).where(keys_table.c.key_id == str(key_id))).first()
    if row is None:
        return None
    return ApiKey(row.key_id, row.name, frozenset(row.scopes.split()), row.created, row.revoked)


def secret_of(request: Request) -> bytes:
    state = request.app.state
    if getattr(state, "dashboard_secret", None) is None:
        state.dashboard_secret = server_secret(state.engine.settings.home)
    return state.dashboard_secret


def current_session(request: Request) -> Session | None:
    data = read_cookie(secret_of(request), request.cookies.get(COOKIE, ""))
    if data is None:
        return None
    key = key_by_id(request.app.state.engine.store.engine, data.get("kid", ""))
    role = role_of(key) if key is not None else None
    return Session(key, role, str(data.get("csrf", ""))) if role else None


class NeedRole:
    """``Depends(NeedRole("editor"))``: a page's session. No session: a redirect to the login
    page (never data); a role too low: 403; a POST whose CSRF token does not match: 403."""

    def __init__(self, role: str):
        self.role = role

    def __call__(self, request: Request) -> Session:
        session = current_session(request)
        if session is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(303, "log in first", headers={"Location": f"/dashboard/login?next={_quote(target)}"})
        if not session.can(self.role):
            raise HTTPException(403, f"this page needs the {self.role} role; your key gives {session.role}")
        return session


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="")


async def check_csrf(request: Request, session: Session):
    """The form's fields (a multi-dict), once its ``csrf`` field matches the session's
    token (else 403)."""
    form = await request.form()
    if not hmac.compare_digest(str(form.get("csrf", "")), session.csrf):
        raise HTTPException(403, "csrf: the form's token does not match this session; reload the page")
    return form


Viewer = Annotated[Session, Depends(NeedRole("viewer"))]
Editor = Annotated[Session, Depends(NeedRole("editor"))]
Admin = Annotated[Session, Depends(NeedRole("admin"))]
