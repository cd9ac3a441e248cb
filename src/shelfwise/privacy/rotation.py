"""``shelfwise keys rotate-data-key``: every personal field re-encrypted under a new data key.

With a key file (``security.data_key_file`` or ``<home>/data.key``):

1. a new key is written first in the file, the old one kept after it (the file is read by
   running servers within a second, so what they write from then on is under the new key, and
   they still read the old);
2. every encrypted field not under the new key (and every plaintext one, written before a
   key was configured) is re-encrypted, a batch of rows per transaction: a crash leaves each
   row under one key or the other, both readable;
3. the old key is removed from the file: from then on it decrypts nothing.

A run that finds more than one key in the file resumes an unfinished rotation (it does not
make yet another key). Without a key file and without ``SHELFWISE_DATA_KEY`` the first run
makes the file (0600), which turns encryption on. With ``SHELFWISE_DATA_KEY`` the keys are
the operator's: put the new key first, run the command, then drop the old ones from the
variable (the command cannot edit the environment).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import sqlalchemy as sa

from shelfwise.store.fields import (
    _PLAIN,
    KEY_ENV,
    FieldCipher,
    KeyRing,
    attributes_aad,
    comment_aad,
    context_aad,
    is_sealed,
    key_file_path,
    new_key,
    read_key_file,
    reveal,
    sealed_key_id,
    write_key_file,
)
from shelfwise.store.tables import events_table, side_feedback_table, users_table


@dataclass(frozen=True)
class Rotation:
    key_id: str  # the key every field is now under
    retired: tuple[str, ...]  # keys removed from the file ("" where the environment holds them)
    profiles: int  # users.attributes cells re-encrypted
    contexts: int  # events.context cells re-encrypted
    comments: int  # gorse_feedback.comment cells re-encrypted
    source: str  # where the keys are


def _reencrypt(engine: sa.Engine, cipher: FieldCipher, table: sa.Table, keys: tuple[str, ...], column: str,
               aad, batch: int) -> int:
    """Re-encrypt ``table.column`` under the cipher's current key, ``batch`` rows per
    transaction, walking the table in the order of its primary key ``keys``; returns the
    cells rewritten."""
    cols, col = [table.c[k] for k in keys], table.c[column]
    walk = sa.tuple_(*cols) if len(cols) > 1 else cols[0]
    current = cipher.ring.current
    done, last = 0, None
    update = (sa.update(table).where(*[c == sa.bindparam(f"k_{c.name}") for c in cols])
              .values({column: sa.bindparam("v_")}))
    while True:
        query = sa.select(*cols, table.c.user_id, col).where(col.is_not(None)).order_by(*cols).limit(batch)
        if last is not None:
            query = query.where(walk > (sa.tuple_(*last) if len(cols) > 1 else last[0]))
        with engine.begin() as conn:
            rows = conn.execute(query).all()
            if not rows:
                return done
            last = tuple(rows[-1][:len(cols)])
            changes = []
            for row in rows:
                *ident, user_id, value = row[:len(cols)] + row[-2:]
                if is_sealed(value) and sealed_key_id(value) == current:
                    continue
                plain = reveal(cipher, value, aad(user_id))
                if plain in _PLAIN:
                    continue
                changes.append({**{f"k_{c.name}": v for c, v in zip(cols, ident, strict=True)},
                                "v_": cipher.encrypt(plain, aad(user_id))})
            if changes:
                conn.execute(update, changes)
                done += len(changes)


def rotate_data_key(settings, store, batch: int = 2000, grace_seconds: float = 2.0) -> Rotation:
    """Rotate (or first make) the data key and re-encrypt every personal field of ``store``
    (an open EventStore); see the module docstring."""
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        cipher = FieldCipher(KeyRing.parse(env, KEY_ENV))
        path = None
    else:
        path = key_file_path(settings)
        if path.exists():
            ring = read_key_file(path)
            if len(ring.raw) == 1:  # else: an unfinished rotation, resumed under its new key
                write_key_file(path, [new_key(), *ring.raw])
                time.sleep(grace_seconds)  # running servers re-read the file within a second
        else:
            if settings.security.data_key_file:
                raise FileNotFoundError(f"setting security.data_key_file: {path} does not exist")
            write_key_file(path, [new_key()])
        cipher = FieldCipher(read_key_file(path), path)
    engine = store.engine
    profiles = _reencrypt(engine, cipher, users_table, ("user_id",), "attributes", attributes_aad, batch)
    contexts = _reencrypt(engine, cipher, events_table, ("seq",), "context", context_aad, batch)
    comments = _reencrypt(engine, cipher, side_feedback_table, ("user_id", "item_id", "feedback_type"), "comment",
                          comment_aad, batch)
    ring = cipher.ring
    retired = tuple(ring.ids[1:])
    if path is not None and retired:
        write_key_file(path, ring.raw[:1])
    store.cipher = FieldCipher(read_key_file(path), path) if path is not None else cipher
    return Rotation(ring.current, retired, profiles, contexts, comments, ring.source)
