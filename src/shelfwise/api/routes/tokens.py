"""POST /tokens: a shopper token for a shop front (``shelfwise.api.tokens`` says what it is)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from shelfwise.api import tokens
from shelfwise.api.deps import Read
from shelfwise.api.keys import ApiKey
from shelfwise.api.schemas import Id

router = APIRouter(tags=["keys"])


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Id
    ttl_seconds: float = Field(default=3600.0, gt=0, allow_inf_nan=False,
                               description="how long it lives; at most serve.token_max_ttl_seconds")


class TokenOut(BaseModel):
    token: str = Field(description="send it as Authorization: Bearer <token>")
    user_id: str
    expires: float = Field(description="Unix seconds")


@router.post("/tokens", response_model=TokenOut, summary="A shopper token: reads one shopper's list, and expires")
def make_token(body: TokenIn, request: Request, key: Annotated[ApiKey, Read]) -> TokenOut:
    """For the shop's server, with a ``read`` key: the token lets the shopper's browser read
    ``GET /users/{user_id}/recommendations`` and its explanations for THIS shopper only, until
    ``expires``. Revoking the key that asked for it voids it. A token cannot ask for tokens."""
    longest = request.app.state.engine.settings.serve.token_max_ttl_seconds
    if body.ttl_seconds > longest:
        raise HTTPException(422, f"ttl_seconds: at most {longest:g} (serve.token_max_ttl_seconds)")
    token, claims = tokens.issue(request.app.state.guard.token_secret, body.user_id, body.ttl_seconds, key.key_id)
    return TokenOut(token=token, user_id=claims.user_id, expires=claims.expires)
