"""Dependencies declared once, as types: the Engine, and a scope check per route.

Every request that presents a credential goes through one ``Guard``: failed-authentication
limits, the key check (or a shopper token's), then the caller's rate limit. Its answer is
kept on the request, so a list answered from the cache before routing (``CachedLists``) and
the route itself count a request once.
"""

from __future__ import annotations

import math
import time
from typing import Annotated

import anyio
from fastapi import Depends, HTTPException, Request

from shelfwise.api import tokens
from shelfwise.api.keys import ApiKey, KeyStore
from shelfwise.api.ratelimit import Limiter
from shelfwise.engine import Engine

MEMO = "shelfwise_caller"  # the request state's key for the Guard's answer


# async: FastAPI runs a plain ``def`` dependency in a worker thread, a hop per request
async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def presented_credential(headers) -> str | None:
    """``Authorization: Bearer <key or token>``, else ``X-API-Key`` (as Gorse's clients send)."""
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return headers.get("x-api-key") or None


def claimed_key_id(credential: str) -> str:
    """The key id a credential names, before it is checked ("" when it names none)."""
    if credential.startswith(tokens.PREFIX):
        return tokens.claimed_key_id(credential)
    parts = credential.split("_")
    return parts[1][:16] if len(parts) >= 3 and parts[0] == "sw" else ""


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def too_many(seconds: int, what: str) -> HTTPException:
    return HTTPException(429, f"{what}; retry after {seconds} s", headers={"Retry-After": str(seconds)})


def unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


class Guard:
    """Who is calling: the key's record (a shopper token's as a record with ``shopper``), after
    the failure and rate limits. Raises 401 (no valid credential), 429 (a limit)."""

    def __init__(self, keys: KeyStore, limiter: Limiter, token_secret: bytes):
        self.keys, self.limiter, self.token_secret = keys, limiter, token_secret
        # addresses past the failure limit, until when (monotonic): known here from this
        # process's own verdicts, so a good request costs no look-up in the limits' store
        self.paused: dict[str, float] = {}

    async def caller(self, request: Request) -> ApiKey:
        memo = getattr(request.state, MEMO, None)
        if memo is None:
            try:
                memo = (await self._caller(request), None)
            except HTTPException as exc:
                memo = (None, exc)
            setattr(request.state, MEMO, memo)
        if memo[1] is not None:
            raise memo[1]
        return memo[0]

    async def _caller(self, request: Request) -> ApiKey:
        presented = presented_credential(request.headers)
        if presented is None:
            raise unauthorized("a valid API key is needed (Authorization: Bearer <key>)")
        address, key_id = client_address(request), claimed_key_id(presented)
        # an address that has failed too often is not heard until it waits: its next
        # credential is not checked at all (in each process from its first failure past the
        # limit). A key id that has is still checked (so an attacker cannot lock its holder
        # out), but a wrong secret for it gets 429, not a verdict.
        until = self.paused.get(address, 0.0) - time.monotonic()
        if until > 0:
            raise too_many(math.ceil(until), "too many failed authentications from this address")
        key, why, counts = await self._check(presented)
        if key is None:
            if counts:
                by_address = await self.limiter.hit("failure", "address", address)
                by_key = await self.limiter.hit("failure", "key", key_id)
                if by_address is not None:
                    if len(self.paused) > 10_000:  # many addresses: forget those whose pause is over
                        self.paused = {a: t for a, t in self.paused.items() if t > time.monotonic()}
                    self.paused[address] = time.monotonic() + by_address
                if by_address is not None or by_key is not None:
                    raise too_many(max(by_address or 0, by_key or 0), "too many failed authentications")
            raise unauthorized(why)
        wait = await (self.limiter.hit("browser", key.key_id, address) if key.browser
                      else self.limiter.hit("key", key.key_id))
        if wait is not None:
            raise too_many(wait, "rate limit of this key reached")
        return key

    async def _check(self, presented: str) -> tuple[ApiKey | None, str, bool]:
        """(record or None, why not, whether the failure counts against the limits)."""
        if presented.startswith(tokens.PREFIX):
            try:
                claims = tokens.verify(self.token_secret, presented)
            except tokens.BadToken as exc:  # an expired token is ordinary, not an attack
                return None, str(exc), not exc.expired
            if claims.key_id:
                issuer = await anyio.to_thread.run_sync(self.keys.live, claims.key_id)
                if issuer is None:
                    return None, "token: the key that made it is revoked", True
            return (ApiKey(claims.key_id, "shopper token", frozenset(), claims.expires, shopper=claims.user_id),
                    "", False)
        # a key checked within KeyStore.cache_seconds is answered from memory on the event
        # loop; otherwise the database is asked from a worker thread, never on the loop
        known, key = self.keys.cached(presented)
        if not known:
            key = await anyio.to_thread.run_sync(self.keys.check, presented)
        return key, "a valid API key is needed (Authorization: Bearer <key>)", key is None


class RequireScope:
    """``Depends(RequireScope("write"))``: 401 without a valid key, 403 without the scope, 429
    past a limit. ``shopper="user_id"``: a shopper token for the shopper that path parameter
    names is accepted too (a token for another shopper: 403)."""

    def __init__(self, scope: str, shopper: str | None = None):
        self.scope, self.shopper = scope, shopper

    async def __call__(self, request: Request) -> ApiKey:
        return self.allow(await request.app.state.guard.caller(request), request.path_params)

    def allow(self, key: ApiKey, path_params) -> ApiKey:
        if key.shopper is not None:
            if self.shopper is None:
                raise HTTPException(403, "a shopper token reads only its shopper's recommendations")
            if path_params.get(self.shopper) != key.shopper:
                raise HTTPException(403, "this token is for another shopper")
            return key
        if not key.allows(self.scope):
            raise HTTPException(403, f"this key lacks the {self.scope!r} scope")
        return key


class AdminUnlessPublicMetrics(RequireScope):
    """``GET /metrics``: an admin key, unless ``serve.metrics_public``."""

    def __init__(self):
        super().__init__("admin")

    async def __call__(self, request: Request) -> ApiKey | None:
        if request.app.state.engine.settings.serve.metrics_public:
            return None
        return await super().__call__(request)


Public = Depends(RequireScope("public"))
Read = Depends(RequireScope("read"))
Write = Depends(RequireScope("write"))
Admin = Depends(RequireScope("admin"))
ReadOrShopper = Depends(RequireScope("read", shopper="user_id"))
