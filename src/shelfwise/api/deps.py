"""Dependencies declared once, as types: the Engine, and a scope check per route."""

from __future__ import annotations

from typing import Annotated

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
        # on the event loop: the answer is cached in memory (KeyStore.cache_seconds), and the
        # database is asked at most once per key in that time
        return self.check(request, keys)

    def check(self, request: Request, keys: KeyStore) -> ApiKey:
        presented = _presented_key(request)
        key = keys.check(presented) if presented else None
        if key is None:
            raise HTTPException(401, "a valid API key is needed (Authorization: Bearer <key>)",
                                headers={"WWW-Authenticate": "Bearer"})
        if not key.allows(self.scope):
            raise HTTPException(403, f"this key lacks the {self.scope!r} scope")
        return key


Read = Depends(RequireScope("read"))
Write = Depends(RequireScope("write"))
Admin = Depends(RequireScope("admin"))
