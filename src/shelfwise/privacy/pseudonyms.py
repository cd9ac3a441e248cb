"""Shoppers named by pseudonym where a line or file leaves the engine: HMAC-SHA256 of the id.

``Pseudonyms(secret)("alice")`` is ``"p_"`` and 20 hex characters: the same for the same id
and secret (a log or an export can still be joined on it), and nobody without the secret can
tell whose it is, nor test a guessed id. The secret comes from ``SHELFWISE_PSEUDONYM_KEY``,
else the file ``security.pseudonym_key_file``, else ``<home>/pseudonym.key``, made (32 random
bytes, 0600) at first use.

Where: the server's log lines (``LogFilter`` on uvicorn's and shelfwise's loggers: the shopper
id of a request path, ``/users/<id>/...`` and the other routes that name one), and CSV exports of shoppers when
``security.pseudonymise_exports`` is on (``for_export``). Prometheus metrics carry no shopper id
(their labels are route templates, models and reasons).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from pathlib import Path
from urllib.parse import quote, unquote

import pandas as pd

KEY_ENV = "SHELFWISE_PSEUDONYM_KEY"
KEY_FILE_NAME = "pseudonym.key"
_SEG = r"[^/?#\s\"'&]+"
# Where a request line names a shopper: our /users/{id}, the dashboard's /shoppers/{id},
# Gorse's /api/user/{id} and /api/recommend/{id}, its /api/feedback/[{type}/]{user}/{item}
# (the user is the second-to-last segment), and a user_id query parameter.
_USER_PATH = re.compile(rf"(/users/|/shoppers/|/api/user/|/api/recommend/)({_SEG})")
_FEEDBACK_PATH = re.compile(rf"(/api/feedback/(?:{_SEG}/)?)({_SEG})(/{_SEG}(?=/?(?:[?#\s\"']|$)))")
_USER_QUERY = re.compile(rf"([?&](?:user_id|user-id|userid)=)({_SEG})", re.I)


class Pseudonyms:
    def __init__(self, secret: bytes):
        if len(secret) < 16:
            raise ValueError("a pseudonym secret must be at least 16 bytes")
        self._secret = secret

    def __call__(self, user_id: str) -> str:
        return "p_" + hmac.new(self._secret, str(user_id).encode(), hashlib.sha256).hexdigest()[:20]

    def in_text(self, text: str) -> str:
        """``text`` with the shopper id of each request path in it replaced by its pseudonym
        (``/users/<id>``, ``/shoppers/<id>``, Gorse's user paths, ``?user_id=<id>``)."""
        def swap(m: re.Match) -> str:
            return m.group(1) + quote(self(unquote(m.group(2))), safe="") + (m.group(3) if m.re.groups > 2 else "")
        for pattern in (_USER_PATH, _FEEDBACK_PATH, _USER_QUERY):
            text = pattern.sub(swap, text)
        return text

    @classmethod
    def from_settings(cls, settings) -> Pseudonyms:
        text = os.environ.get(KEY_ENV, "").strip()
        if text:
            return cls(text.encode())
        named = settings.security.pseudonym_key_file
        path = Path(named).expanduser() if named else Path(settings.home) / KEY_FILE_NAME
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first: use theirs
                pass
            else:
                with os.fdopen(fd, "wb") as out:
                    out.write(os.urandom(32).hex().encode())
        return cls(path.read_bytes().strip())


class LogFilter(logging.Filter):
    """Rewrites a record's message so that no shopper id in a request path reaches a log."""

    def __init__(self, pseudonyms: Pseudonyms):
        super().__init__()
        self.pseudonyms = pseudonyms

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(self.pseudonyms.in_text(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self.pseudonyms.in_text(record.msg)
        return True


#: Loggers whose lines can hold a request path: uvicorn's access and error logs, and ours.
LOGGERS = ("uvicorn.access", "uvicorn.error", "shelfwise")


def install(pseudonyms: Pseudonyms) -> None:
    """Put one ``LogFilter`` on every logger that may name a shopper (a logger's filters see
    only its own records, so each shelfwise logger made so far gets one)."""
    names = set(LOGGERS) | {n for n in logging.root.manager.loggerDict if n.startswith("shelfwise.")}
    for name in names:
        logger = logging.getLogger(name)
        logger.filters = [f for f in logger.filters if not isinstance(f, LogFilter)]
        logger.addFilter(LogFilter(pseudonyms))


def for_export(frame: pd.DataFrame, settings, column: str = "user_id") -> pd.DataFrame:
    """``frame`` with its shopper ids pseudonymised when ``security.pseudonymise_exports``
    is on (the column, or the index when it has that name); as it is otherwise."""
    if not settings.security.pseudonymise_exports:
        return frame
    names = Pseudonyms.from_settings(settings)
    out = frame.copy()
    if column in out.columns:
        out[column] = out[column].map(names)
    elif out.index.name == column:
        out.index = out.index.map(names)
    return out
