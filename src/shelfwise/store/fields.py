"""Personal fields encrypted at rest, by the store itself: AES-GCM (``cryptography``'s
AESGCM), one key ring.

What is encrypted: a shopper's profile attributes (``users.attributes``), an event's context
(``events.context``) and a Gorse feedback comment (``gorse_feedback.comment``): the free-form
fields a shop fills with personal data (names, addresses, search queries). Ids, times,
behaviours and numbers stay plain: every query filters or sums them. ``None``, ``""`` and
``"{}"`` (nothing to hide) stay plain too, so events without a context cost bulk imports
nothing.

A stored ciphertext is one text cell, ``sw1:<key id>:<base64(nonce 12 B || ciphertext || tag)>``:
the key id beside it names the key that decrypts it, so a ring of several keys reads fields
written under any of them (a rotation in progress). The associated data binds a ciphertext
to its column and shopper (``users.attributes\\x1f<user id>``), so a cell copied to another
shopper's row does not decrypt. A cell without the prefix is plaintext (written before a key
was configured) and is read as it is.

The keys come from (first found): ``SHELFWISE_DATA_KEY`` (base64 keys separated by commas),
the file ``security.data_key_file``, else ``<home>/data.key`` if it exists (base64 keys one a
line). The first key encrypts; the others only decrypt. Never from the database.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import threading
import time
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shelfwise.errors import ShelfwiseError

PREFIX = "sw1:"
#: The stored columns this module encrypts: the fields ``data.schemas`` marks personal
#: (``Event.context``, ``User.attributes``) and Gorse's free-text feedback comment.
ENCRYPTED = ("users.attributes", "events.context", "gorse_feedback.comment")
KEY_ENV = "SHELFWISE_DATA_KEY"
KEY_FILE_NAME = "data.key"
_PLAIN = (None, "", "{}")
_RELOAD_SECONDS = 1.0  # how often a ring read from a file looks for a rotated file


class DataKeyError(ShelfwiseError, ValueError):
    """A data key that is missing, malformed or cannot decrypt a stored field."""


def key_id(key: bytes) -> str:
    """A key's id: 12 hex characters of a hash of it (a wrong key has another id)."""
    return hashlib.sha256(b"shelfwise data key\x00" + key).hexdigest()[:12]


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


class KeyRing:
    """Data keys by id; ``current`` encrypts, the others only decrypt."""

    def __init__(self, keys: list[bytes], source: str):
        if not keys:
            raise DataKeyError(f"{source} holds no data key")
        self.source = source
        self.keys = {key_id(k): AESGCM(k) for k in keys}
        self.ids = [key_id(k) for k in keys]
        self.current = self.ids[0]
        self.raw = list(keys)

    @classmethod
    def parse(cls, text: str, source: str) -> KeyRing:
        keys = []
        for n, token in enumerate(text.replace(",", "\n").split(), start=1):
            try:
                key = base64.b64decode(token, validate=True)
            except (binascii.Error, ValueError):
                raise DataKeyError(f"{source}: key {n} is not base64") from None
            if len(key) != 32:
                raise DataKeyError(f"{source}: key {n} is {len(key)} bytes; an AES-256 key is 32 "
                                   "(make one with `shelfwise keys rotate-data-key`)")
            keys.append(key)
        return cls(keys, source)


def key_file_path(settings) -> Path:
    """The key file the settings name, else ``<home>/data.key``."""
    named = settings.security.data_key_file
    return Path(named).expanduser() if named else Path(settings.home) / KEY_FILE_NAME


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Write a ring (first key current) atomically, readable by its owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(encode_key(k) + "\n" for k in keys))
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class FieldCipher:
    """Encrypts and decrypts personal fields with a ``KeyRing``. Built from a key file, it
    re-reads the file when it changes (checked at most once a second), so a running server
    follows ``shelfwise keys rotate-data-key``."""

    def __init__(self, ring: KeyRing, path: Path | None = None):
        self._ring, self.path = ring, path
        self._stamp = self._mtime()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> FieldCipher | None:
        """The cipher of the configured keys; None when no key is configured (fields are
        then stored as plaintext)."""
        text = os.environ.get(KEY_ENV, "").strip()
        if text:
            return cls(KeyRing.parse(text, KEY_ENV))
        path = key_file_path(settings)
        if not path.exists():
            if settings.security.data_key_file:
                raise DataKeyError(f"setting security.data_key_file: {path} does not exist")
            return None
        return cls(read_key_file(path), path)

    def _mtime(self) -> float | None:
        try:
            return self.path.stat().st_mtime_ns if self.path is not None else None
        except OSError:
            return None

    @property
    def ring(self) -> KeyRing:
        if self.path is not None and time.monotonic() - self._checked >= _RELOAD_SECONDS:
            with self._lock:
                self._checked = time.monotonic()
                stamp = self._mtime()
                if stamp is not None and stamp != self._stamp:
                    self._ring, self._stamp = read_key_file(self.path), stamp
        return self._ring

    def reload(self) -> None:
        """Read the key file now (rotation calls it after writing the file)."""
        if self.path is not None:
            self._ring, self._stamp = read_key_file(self.path), self._mtime()

    def encrypt(self, text: str | None, aad: str) -> str | None:
        if text in _PLAIN:
            return text
        ring = self.ring
        nonce = os.urandom(12)
        sealed = ring.keys[ring.current].encrypt(nonce, text.encode(), aad.encode())
        return f"{PREFIX}{ring.current}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, value: str | None, aad: str) -> str | None:
        return reveal(self, value, aad)


def read_key_file(path: Path) -> KeyRing:
    try:
        text = path.read_text()
    except OSError as exc:
        raise DataKeyError(f"cannot read the data key file {path}: {exc.strerror}") from None
    return KeyRing.parse(text, f"data key file {path}")


def is_sealed(value) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def sealed_key_id(value: str) -> str:
    return value[len(PREFIX):].split(":", 1)[0]


def reveal(cipher: FieldCipher | None, value: str | None, aad: str) -> str | None:
    """The plaintext of a stored field (a plaintext cell as it is). Raises DataKeyError,
    one line, when no configured key decrypts it."""
    if not is_sealed(value):
        return value
    kid, _, body = value[len(PREFIX):].partition(":")
    column = aad.split("\x1f", 1)[0]
    if cipher is None:
        raise DataKeyError(f"{column} is encrypted (data key {kid}) but no data key is configured: "
                           f"set {KEY_ENV} or security.data_key_file")
    ring = cipher.ring
    aes = ring.keys.get(kid)
    if aes is None:
        raise DataKeyError(f"{column} is encrypted under data key {kid}, which {ring.source} does not "
                           f"hold (it holds {', '.join(ring.ids)}): wrong key?")
    try:
        raw = base64.b64decode(body)
        return aes.decrypt(raw[:12], raw[12:], aad.encode()).decode()
    except (InvalidTag, binascii.Error, ValueError):
        raise DataKeyError(f"{column}: data key {kid} does not decrypt a stored value (altered, or "
                           "moved from another row)") from None


def attributes_aad(user_id: str) -> str:
    return f"users.attributes\x1f{user_id}"


def context_aad(user_id: str) -> str:
    return f"events.context\x1f{user_id}"


def comment_aad(user_id: str) -> str:
    return f"gorse_feedback.comment\x1f{user_id}"


_USER, _CONTEXT = 1, 7  # positions in ``data.schemas.EVENT_COLUMNS``


def seal_event_rows(cipher: FieldCipher | None, rows: list[tuple]) -> list[tuple]:
    """Event tuples (``EVENT_COLUMNS`` order) with their context encrypted."""
    if cipher is None:
        return rows
    enc = cipher.encrypt
    return [r if r[_CONTEXT] in _PLAIN else (*r[:_CONTEXT], enc(r[_CONTEXT], context_aad(r[_USER])), *r[_CONTEXT + 1:])
            for r in rows]


def open_column(cipher: FieldCipher | None, values: list, user_ids: list, aad) -> list:
    """Stored cells of one column, decrypted; ``aad(user_id)`` is the column's binding."""
    if not any(map(is_sealed, values)):
        return values
    return [reveal(cipher, v, aad(u)) if is_sealed(v) else v for v, u in zip(values, user_ids, strict=True)]


def check_readable(store) -> None:
    """Raise DataKeyError unless the store's keys open what it holds: a profile's encrypted
    attributes and the newest encrypted event context among the last 10,000 events (a server
    checks this before it starts, so a wrong key fails at once, not on a shopper's request)."""
    import sqlalchemy as sa

    from shelfwise.store.tables import events_table, users_table

    u, e = users_table.c, events_table.c
    with store.engine.connect() as conn:
        profile = conn.execute(sa.select(u.user_id, u.attributes).where(u.attributes.startswith(PREFIX))
                               .limit(1)).first()
        newest = conn.execute(sa.select(sa.func.max(e.seq))).scalar()
        event = None if newest is None else conn.execute(
            sa.select(e.user_id, e.context).where(e.seq > newest - 10_000, e.context.startswith(PREFIX))
            .order_by(e.seq.desc()).limit(1)).first()
    if profile is not None:
        reveal(store.cipher, profile[1], attributes_aad(profile[0]))
    if event is not None:
        reveal(store.cipher, event[1], context_aad(event[0]))
