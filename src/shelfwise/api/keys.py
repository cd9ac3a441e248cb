"""API keys with scopes, stored hashed beside the events (same database URL).

A key is ``sw_<id>_<secret>``; only the SHA-256 of the whole key is stored, so a copy of the
database does not hand out working keys. Keys are 190 random bits, which makes a fast hash
safe here (a slow password hash guards low-entropy secrets, not these).

Scopes: ``public`` (the non-personal lists a shop front may show anyone: popular, similar
items, bought together, an anonymous session's list; safe to put in a browser), ``read``
(every read, shoppers' lists and data included), ``write`` (events, items, users), ``admin``
(train, activate, forget, keys, metrics). ``read`` implies ``public``; ``admin`` implies all.
A shopper token (``shelfwise.api.tokens``) is not a key: it answers as a record with no scope
and ``shopper`` set, which the shopper's own list routes accept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

SCOPES = ("public", "read", "write", "admin")
#: what each scope grants besides itself
IMPLIES = {"admin": frozenset(SCOPES), "read": frozenset({"read", "public"})}

_metadata = sa.MetaData()
keys_table = sa.Table(
    "api_keys", _metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("scopes", sa.String(64), nullable=False),  # space-separated
    sa.Column("created", sa.Float(precision=53), nullable=False),
    sa.Column("revoked", sa.Float(precision=53)),
)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[str]
    created: float
    revoked: float | None = None
    shopper: str | None = None  # set on a shopper token's record: the one shopper it reads

    def allows(self, scope: str) -> bool:
        return self.revoked is None and any(scope in IMPLIES.get(s, {s}) for s in self.scopes)

    @property
    def browser(self) -> bool:
        """A credential made to be held by a browser (a public key, a shopper token): rate
        limited per client address, not per key."""
        return self.shopper is not None or self.scopes == {"public"}


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    """Create, check, list and revoke keys in the database behind ``engine``.

    ``check`` remembers each answer (a valid key's record, or that a key is not valid) for
    ``cache_seconds``, so a server asks the database about a key at most once in that time;
    a revocation, made by any process, takes effect within it. Remembering "not valid" is
    safe: a new key is random, so nobody presents it before it exists."""

    def __init__(self, engine: sa.Engine, cache_seconds: float = 0.0):
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._checked: dict[str, tuple[float, ApiKey | None]] = {}  # key hash -> (until, answer)
        _metadata.create_all(engine)

    def create(self, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
        """A new key: (its record, the key itself, which is shown once and never stored)."""
        bad = sorted(set(scopes) - set(SCOPES))
        if bad or not scopes:
            raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {scopes}")
        if not name or len(name) > 255:
            raise ValueError("a key needs a name of 1 to 255 characters")
        key_id = secrets.token_hex(4)
        key = f"sw_{key_id}_{secrets.token_urlsafe(24)}"
        record = ApiKey(key_id, name, frozenset(scopes), time.time())
        with self.engine.begin() as conn:
            conn.execute(keys_table.insert().values(
                key_id=key_id, name=name, key_hash=_hash(key), scopes=" ".join(sorted(scopes)),
                created=record.created))
        return record, key

    def cached(self, key: str) -> tuple[bool, ApiKey | None]:
        """(known, record) from memory alone: ``known`` False means ``check`` must ask the
        database (it is not called on the event loop then)."""
        parts = key.split("_")
        if len(parts) < 3 or parts[0] != "sw":
            return True, None
        hit = self._checked.get(_hash(key))
        if hit is not None and hit[0] > time.monotonic():
            return True, hit[1]
        return False, None

    def check(self, key: str) -> ApiKey | None:
        """The key's record if it exists and is not revoked, else None."""
        parts = key.split("_")
        if len(parts) < 3 or parts[0] != "sw":
            return None
        digest = _hash(key)
        now = time.monotonic()
        hit = self._checked.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(keys_table).where(keys_table.c.key_id == parts[1])).first()
        valid = row is not None and row.revoked is None and hmac.compare_digest(row.key_hash, digest)
        answer = _record(row) if valid else None
        if self.cache_seconds > 0:
            if len(self._checked) > 10_000:  # a flood of made-up keys must not grow memory
                self._checked = {d: v for d, v in self._checked.items() if v[0] > now}
            self._checked[digest] = (now + self.cache_seconds, answer)
        return answer

    def live(self, key_id: str) -> ApiKey | None:
        """The record of the live (not revoked) key with this id, remembered as ``check``
        remembers (a shopper token names the key that made it: revoking the key voids it)."""
        now = time.monotonic()
        hit = self._checked.get("id:" + key_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(keys_table).where(keys_table.c.key_id == key_id)).first()
        answer = _record(row) if row is not None and row.revoked is None else None
        if self.cache_seconds > 0:
            self._checked["id:" + key_id] = (now + self.cache_seconds, answer)
        return answer

    def list(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(keys_table).order_by(keys_table.c.created)).all()
        return [_record(r) for r in rows]

    def revoke(self, key_id: str) -> bool:
        """Revoke a key by id; False if there is no such live key."""
        with self.engine.begin() as conn:
            done = conn.execute(keys_table.update()
                                .where(keys_table.c.key_id == key_id, keys_table.c.revoked.is_(None))
                                .values(revoked=time.time()))
        return done.rowcount == 1


def _record(row) -> ApiKey:
    return ApiKey(row.key_id, row.name, frozenset(row.scopes.split()), row.created, row.revoked)
