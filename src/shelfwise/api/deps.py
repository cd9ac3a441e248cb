"""Dependencies declared once, as types: the Engine, and a scope check per route."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import Depends, HTTPException, Request

from shelfwise.api.keys import ApiKey, KeyStore
from shelfwise.engine import Engine


# async: FastAPI runs a plain ``def`` dependency in a worker thread, a hop per request
async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_keys(request: Request) -> KeyStore:
    return request.app.state.keys


EngineDep = Annotated[Engine, Depends(get_engine)]


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


class RequireScope:
    """``Depends(RequireScope("write"))``: 401 without a valid key, 403 without the scope."""

    def __init__(self, scope: str):
        self.scope = scope

    async def __call__(self, request: Request, keys: Annotated[KeyStore, Depends(get_keys)]) -> ApiKey:
        # a key checked within KeyStore.cache_seconds is answered from memory on the event
        # loop; otherwise the database is asked from a worker thread, never on the loop
        presented = _presented_key(request)
        known, key = keys.cached(presented) if presented else (True, None)
        if not known:
            key = await anyio.to_thread.run_sync(keys.check, presented)
        return self._allow(key)

    def check(self, request: Request, keys: KeyStore) -> ApiKey:
        """The blocking form (for callers already off the event loop)."""
        presented = _presented_key(request)
        return self._allow(keys.check(presented) if presented else None)

    def _allow(self, key: ApiKey | None) -> ApiKey:
        if key is None:
            raise HTTPException(401, "a valid API key is needed (Authorization: Bearer <key>)",
                                headers={"WWW-Authenticate": "Bearer"})
        if not key.allows(self.scope):
            raise HTTPException(403, f"this key lacks the {self.scope!r} scope")
        return key


Read = Depends(RequireScope("read"))
Write = Depends(RequireScope("write"))
Admin = Depends(RequireScope("admin"))
