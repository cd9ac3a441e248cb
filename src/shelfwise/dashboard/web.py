"""What every dashboard page shares: templates and static files from the installed package,
the login form, logout, and the page frame (session, role, CSRF token, navigation)."""

from __future__ import annotations

import hmac
import time
from importlib import resources
from typing import Annotated
from urllib.parse import quote, urlsplit

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from shelfwise import __version__
from shelfwise.api.deps import claimed_key_id, client_address
from shelfwise.dashboard.auth import COOKIE, SESSION_SECONDS, Session, current_session, make_cookie, role_of, secret_of
from shelfwise.store.tables import items_table

router = APIRouter(prefix="/dashboard", include_in_schema=False)
root = APIRouter(include_in_schema=False)  # what browsers ask of any site: the icon
env = Environment(loader=PackageLoader("shelfwise.dashboard", "templates"), autoescape=select_autoescape(),
                  trim_blocks=True, lstrip_blocks=True)
# an id as one path segment: '/', '?', '#' and '%' encoded (Jinja's urlencode keeps '/')
env.filters["segment"] = lambda v: quote(str(v), safe="")
env.filters["when"] = lambda t: time.strftime("%Y-%m-%d %H:%M", time.gmtime(t)) if t else "-"
env.filters["num"] = lambda v: "-" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:,.4g}"
STATIC = {"dash.css": "text/css", "favicon.svg": "image/svg+xml", "dash.js": "text/javascript",
          "uPlot.iife.min.js": "text/javascript", "uPlot.min.css": "text/css"}
PAGES = [("overview", "Overview"), ("models", "Models"), ("shoppers", "Shoppers"), ("items", "Items"),
         ("rules", "Rules"), ("marketing", "Marketing"), ("experiments", "Experiments"), ("privacy", "Privacy"),
         ("settings", "Settings")]


def render(request: Request, template: str, session: Session | None, status: int = 200, **data) -> HTMLResponse:
    page = env.get_template(template).render(request=request, session=session, pages=PAGES, version=__version__,
                                             **data)
    return HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})


def titles(engine, item_ids: list[str]) -> dict[str, str]:
    """{item id: title} of the ids the catalogue has a title for."""
    if not item_ids:
        return {}
    t = items_table.c
    with engine.store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.item_id, t.title).where(t.item_id.in_(list(set(item_ids))))).all()
    return {r.item_id: r.title for r in rows if r.title}


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    body = resources.files("shelfwise.dashboard").joinpath("static", name).read_bytes()
    return Response(body, media_type=STATIC[name], headers={"Cache-Control": "public, max-age=3600"})


@root.get("/favicon.ico")
def favicon() -> Response:
    return static("favicon.svg")


@router.get("/static/licences/{name}")
def licence(name: str) -> Response:
    if name not in ("uPlot-LICENSE.txt",):
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(resources.files("shelfwise.dashboard").joinpath("static", name).read_text(),
                    media_type="text/plain")


def _safe_next(target: str | None) -> str:
    """Only a path inside the dashboard: never another site."""
    if not target:
        return "/dashboard/"
    parts = urlsplit(target)
    ok = not parts.scheme and not parts.netloc and target.startswith("/dashboard")
    return target if ok else "/dashboard/"


@router.get("/login")
def login_page(request: Request, next: str | None = None):
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login")
async def login(request: Request, key: Annotated[str, Form(max_length=512)] = "",
                next: Annotated[str, Form(max_length=2048)] = "/dashboard/"):
    # the API's failed-authentication limits (api.deps.Guard), per client address and per
    # key id: a wrong key past them is answered 429; an address past them is not checked
    limiter, failed = request.app.state.guard.limiter, [("address", client_address(request)),
                                                        ("key", claimed_key_id(key.strip()))]
    wait = await limiter.over("failure", *failed[0])
    if wait is not None:
        return _too_many(request, next, wait)
    found = await anyio.to_thread.run_sync(request.app.state.keys.check, key.strip()) if key.strip() else None
    role = role_of(found) if found is not None else None
    if found is None and key.strip():
        waits = [await limiter.hit("failure", *ids) for ids in failed]
        if any(w is not None for w in waits):
            return _too_many(request, next, max(w or 0 for w in waits))
    if role is None:
        why = "key: not a valid API key" if found is None else "key: this key has no read, write or admin scope"
        return render(request, "login.html", None, status=401, next=_safe_next(next), error=why)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(COOKIE, make_cookie(secret_of(request), found.key_id), max_age=SESSION_SECONDS,
                        path="/dashboard", secure=True, httponly=True, samesite="strict")
    return response


def _too_many(request: Request, target: str, wait: int) -> HTMLResponse:
    page = render(request, "login.html", None, status=429, next=_safe_next(target),
                  error=f"key: too many failed attempts from here; retry after {wait} s")
    page.headers["Retry-After"] = str(wait)
    return page


@router.post("/logout")
async def logout(request: Request):
    session = current_session(request)
    form = await request.form()
    if session is not None and not hmac.compare_digest(str(form.get("csrf", "")), session.csrf):
        return Response("csrf: the form's token does not match this session", status_code=403)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard", secure=True, httponly=True, samesite="strict")
    return response
