"""Shopper tokens: a signed, expiring credential a browser holds to read ONE shopper's list.

In the spirit of Algolia's secured API keys: the shop's server, holding a ``read`` key, asks
for a token for the shopper it is rendering a page for (``POST /tokens``, or ``shelfwise keys
token USER --ttl``) and hands it to that shopper's browser, which sends it alone as
``Authorization: Bearer swt_...``. The token reads that shopper's recommendations and their
explanations, and nothing else; it cannot be widened, moved to another shopper, or extended,
because any change breaks its signature.

    swt_<payload>.<signature>
    payload   = base64url(JSON {"u": user id, "e": expiry in Unix seconds, "k": key id or ""})
    signature = base64url(HMAC-SHA256(secret, payload))

The secret is a file (``serve.token_secret_file``, default ``<home>/tokens.secret``, made once
with mode 0600 and shared by every process serving that home); it is never in the database.
``k`` names the key that asked for the token: revoking that key voids its tokens. Replacing
the secret file voids every token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX = "swt_"
# bandit B105: a file name, not a password
SECRET_FILE = "tokens.secret"  # nosec B105


class BadToken(ValueError):
    """A token that is not one of ours, was changed, or has expired (``expired`` says which)."""

    def __init__(self, message: str, expired: bool = False):
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True)
class ShopperToken:
    user_id: str
    expires: float  # Unix seconds
    key_id: str  # the key that asked for it; "" when made by the CLI without one


def secret_file(path: str | Path) -> bytes:
    """32 random bytes kept in ``path`` as hex, made on first use (readable by its owner only);
    every process that reads the same file gets the same secret."""
    path = Path(path)
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def token_secret(settings) -> bytes:
    """The token secret of these settings' home (or of ``serve.token_secret_file``)."""
    named = settings.serve.token_secret_file
    return secret_file(Path(named) if named else Path(settings.home) / SECRET_FILE)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode(), hashlib.sha256).digest())


def issue(secret: bytes, user_id: str, ttl_seconds: float, key_id: str = "") -> tuple[str, ShopperToken]:
    """(the token, what it says) for ``user_id``, valid for ``ttl_seconds`` from now."""
    if not user_id or len(user_id) > 255:
        raise ValueError("user_id: 1 to 255 characters")
    if not ttl_seconds > 0:
        raise ValueError(f"ttl: must be positive; got {ttl_seconds}")
    claims = ShopperToken(user_id, float(int(time.time() + ttl_seconds)), key_id)
    payload = _b64(json.dumps({"u": user_id, "e": int(claims.expires), "k": key_id},
                              separators=(",", ":")).encode())
    return f"{PREFIX}{payload}.{_sign(secret, payload)}", claims


def verify(secret: bytes, token: str, now: float | None = None) -> ShopperToken:
    """What a token says, once its signature holds and it has not expired; BadToken otherwise."""
    payload, dot, signature = token.removeprefix(PREFIX).partition(".")
    if not token.startswith(PREFIX) or not dot or not hmac.compare_digest(_sign(secret, payload), signature):
        raise BadToken("token: not valid (changed, or not made with this server's secret)")
    try:
        data = json.loads(_unb64(payload))
        claims = ShopperToken(str(data["u"]), float(data["e"]), str(data.get("k", "")))
    except (ValueError, KeyError, TypeError):
        raise BadToken("token: not valid (unreadable payload)") from None
    if claims.expires <= (time.time() if now is None else now):
        raise BadToken("token: expired; ask the shop's server for a new one", expired=True)
    return claims


def claimed_key_id(token: str) -> str:
    """The key id a token names, unverified (to count failed attempts per key id)."""
    try:
        return str(json.loads(_unb64(token.removeprefix(PREFIX).partition(".")[0])).get("k", ""))
    except (ValueError, AttributeError, TypeError):
        return ""
