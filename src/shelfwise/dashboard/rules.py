"""Rules: the shop's business rules shown and edited, previewed on a shopper's list before
saving, and every change audited (``serving.rulebook``).

The preview serves the shopper's list twice through the one serving path: under the rules
serving now, and with the edited rules in their place (``ListRequest.shop_rules``); nothing
is saved or logged. A save stores the rules for every process serving this shop and counts
a catalogue change in the online state, so no cached list outlives the old rules."""

from __future__ import annotations

import json
import re
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from shelfwise.dashboard.auth import Editor, Viewer, check_csrf
from shelfwise.dashboard.shoppers import changes, served_rows
from shelfwise.dashboard.web import render, router
from shelfwise.data.rules import RuleSet
from shelfwise.serving import ListRequest

LIST_N = 10
#: the form's fields, in the order of the page
LINES = ("hidden_items", "include_categories", "exclude_categories")
NUMBERS = ("min_price", "max_price", "max_per_brand")


def _lines(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[\n,]", text or "") if p.strip()]


def form_fields(rules: RuleSet) -> dict:
    """A RuleSet as the form's text fields."""
    promo = rules.promotion
    return {**{k: "\n".join(getattr(rules, k)) for k in LINES},
            **{k: "" if getattr(rules, k) is None else f"{getattr(rules, k):g}" for k in NUMBERS},
            "promo_categories": "\n".join(promo.filter.categories) if promo else "",
            "promo_brands": "\n".join(promo.filter.brands) if promo else "",
            "promo_items": "\n".join(promo.filter.item_ids) if promo else "",
            "promo_share": f"{promo.share:g}" if promo else "",
            "pinned": "\n".join(f"{p.item_id} {p.position}" for p in rules.pinned),
            "segments": json.dumps({str(k): v.model_dump(exclude_defaults=True) for k, v in rules.segments.items()})
            if rules.segments else ""}


def parse(fields: dict) -> tuple[RuleSet | None, list[str]]:
    """(the RuleSet the form says, []) or (None, ["field: what is wrong", ...])."""
    errors: list[str] = []
    raw: dict = {k: _lines(fields.get(k, "")) for k in LINES}
    for k in NUMBERS:
        text = str(fields.get(k, "") or "").strip()
        if text:
            try:
                raw[k] = int(text) if k == "max_per_brand" else float(text)
            except ValueError:
                errors.append(f"{k}: a number is needed; got {text!r}")
    pins = []
    for line in str(fields.get("pinned", "") or "").splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            errors.append(f"pinned: each line is an item id and a position, like 'P000017 1'; got {line.strip()!r}")
            continue
        pins.append({"item_id": parts[0], "position": int(parts[1])})
    raw["pinned"] = pins
    share = str(fields.get("promo_share", "") or "").strip()
    promo = {"categories": _lines(fields.get("promo_categories", "")), "brands": _lines(fields.get("promo_brands", "")),
             "item_ids": _lines(fields.get("promo_items", ""))}
    if share or any(promo.values()):
        try:
            raw["promotion"] = {"filter": promo, "share": float(share)}
        except ValueError:
            errors.append(f"promo_share: a share of the slots in (0, 1] is needed; got {share!r}")
    segments = str(fields.get("segments", "") or "").strip()
    if segments:
        try:
            raw["segments"] = json.loads(segments)
        except json.JSONDecodeError as exc:
            errors.append(f"segments: JSON like {{\"2\": {{\"hidden_items\": [\"P1\"]}}}} is needed ({exc.msg})")
    if errors:
        return None, errors
    try:
        return RuleSet.model_validate(raw), []
    except ValidationError as exc:
        return None, [f"{'.'.join(str(p) for p in e['loc']) or 'rules'}: {e['msg']}" for e in exc.errors()]


def _page(request: Request, session, status: int = 200, **data):
    engine = request.app.state.engine
    source = engine.pipeline.source
    saved, revision = source.rulebook.current() if hasattr(source, "rulebook") else (None, 0)
    current = engine.pipeline.shop_rules()
    audit = source.rulebook.audit() if hasattr(source, "rulebook") else []
    for row in audit:
        row["before_pretty"] = json.dumps(json.loads(row["before"]), indent=1)
        row["after_pretty"] = json.dumps(json.loads(row["after"]), indent=1)
    data.setdefault("fields", form_fields(current))
    return render(request, "rules.html", session, status=status, page="rules", revision=revision,
                  origin=("as saved from the dashboard" if saved is not None
                          else "as the settings give them (shelfwise.toml)"),
                  audit=audit, current_json=current.model_dump_json(indent=1), **data)


@router.get("/rules")
def rules(request: Request, session: Viewer, shopper: Annotated[str | None, Query(max_length=255)] = None,
          done: Annotated[str | None, Query(max_length=255)] = None):
    return _page(request, session, shopper=shopper or "", errors=[], preview=None, done=done)


def preview(engine, shopper: str, candidate: RuleSet) -> dict:
    """The shopper's list under the rules serving now, and with ``candidate`` in their place."""
    request = ListRequest(n=LIST_N, explore=False, log=False)
    now = served_rows(engine, engine.pipeline.recommend(shopper, request))
    request.shop_rules = candidate
    then = served_rows(engine, engine.pipeline.recommend(shopper, request))
    kept = {r["item_id"] for r in then}
    return {"rows": changes(now, then), "dropped": [r for r in now if r["item_id"] not in kept],
            "changed": [r["item_id"] for r in now] != [r["item_id"] for r in then]}


@router.post("/rules")
async def edit(request: Request, session: Editor):
    form = await check_csrf(request, session)
    fields = {k: str(form.get(k, "") or "") for k in (*LINES, *NUMBERS, "promo_categories", "promo_brands",
                                                       "promo_items", "promo_share", "pinned")}
    shopper = str(form.get("shopper", "") or "").strip()[:255]
    action = form.get("action")
    engine = request.app.state.engine
    candidate, errors = parse(fields)
    if action not in ("preview", "save"):
        errors.append("action: preview or save")
    if errors:
        return _page(request, session, 422, fields=fields, shopper=shopper, errors=errors, preview=None, done=None)
    if action == "preview":
        if not shopper:
            return _page(request, session, 422, fields=fields, shopper=shopper, preview=None, done=None,
                         errors=["shopper: name a shopper whose list to preview"])
        return _page(request, session, fields=fields, shopper=shopper, errors=[], done=None,
                     preview=preview(engine, shopper, candidate))
    before = engine.pipeline.shop_rules()
    revision = engine.pipeline.source.rulebook.save(candidate, who=session.key.key_id, before=before)
    engine.pipeline.source.rules_changed()
    request.app.state.online.catalogue_changed()  # cached lists and other processes take the new rules
    query = urlencode({"done": f"saved as revision {revision}", "shopper": shopper})
    return RedirectResponse(f"/dashboard/rules?{query}", status_code=303)
