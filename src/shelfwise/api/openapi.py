"""The OpenAPI document, made truthful: each operation lists the key scope it needs (as its
``security``) and every status code the API may answer it with, each with its body's schema.

FastAPI writes the success responses and a 422 from the routes themselves; the refusals come
from elsewhere (the key check, the body limit, the app's error handlers, Gorse's plain-text
errors), so they are added here from what each route declares: its ``RequireScope``
dependency, its parameters and body. The rest, which a route's own code decides, is listed in
``RAISES``; ``tests/api/test_fuzz.py`` checks every answer against the document.
"""

from __future__ import annotations

from fastapi import FastAPI, routing
from fastapi.openapi.utils import _get_api_route_for_openapi  # the routes as the document sees them
from fastapi.routing import APIRoute

from shelfwise.api.deps import RequireScope

ERROR = {"title": "Refusal", "type": "object", "required": ["detail"],
         "properties": {"detail": {"type": "string", "description": "what is wrong, naming the field"}}}
INVALID = {"title": "InvalidRequest", "type": "object", "required": ["detail"], "properties": {"detail": {
    "description": "'field: what is wrong', or one entry per field",
    "anyOf": [{"type": "string"},
              {"type": "array", "items": {"type": "object", "required": ["loc", "msg"], "properties": {
                  "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                  "msg": {"type": "string"}, "type": {"type": "string"}}}}]}}}
TEXT = {"text/plain": {"schema": {"type": "string"}}}
WHY = {
    400: "The request is not valid (Gorse's plain-text error names the field).",
    401: "No valid API key or shopper token (wrong, revoked, expired or changed).",
    403: "The key lacks the scope, or the shopper token is for another shopper or another route.",
    404: "No such item, shopper, campaign or version.",
    408: "The request body did not arrive in time (serve.body_timeout_seconds).",
    409: "Not possible yet: the model is not trained, the shop is not segmented, a run is in progress.",
    413: "The request body is over 1 MiB.",
    422: "A parameter or the body is not valid; the detail names the field.",
    429: "A rate limit, or too many failed authentications; Retry-After says when to come back.",
    503: "Nothing is trained yet, or the store does not answer.",
}
#: statuses a route's own code answers besides the ones its declaration implies
RAISES = {
    "/users/{user_id}/recommendations": {409, 503},
    "/users/{user_id}/recommendations/{item_id}/explain": {409},
    "/session/recommendations": {409, 503},
    "/recommendations/popular": {503},
    "/items/{item_id}/similar": {409},
    "/items/{item_id}/bought-together": {409},
    "/users/{user_id}/profile": {409},
    "/segments": {409},
    "/audiences": {404, 409},
    "/campaigns": {404, 409},
    "/campaigns/{campaign_id}": {409},
    "/campaigns/{campaign_id}/audience.csv": {409},
    "/models/train": {409},
    "/models/{version}/activate": {409},
    "/api/health/ready": {503},
}
SECURITY = {
    "key": {"type": "http", "scheme": "bearer", "description": "an API key, sw_<id>_<secret> "
            "(shelfwise keys create); the operation names the scope it needs. X-API-Key: <key> works too."},
    "shopperToken": {"type": "http", "scheme": "bearer", "bearerFormat": "swt_<payload>.<signature>",
                     "description": "a shopper token (POST /tokens): reads one shopper's list until it expires"},
}


def scope_of(route: APIRoute) -> RequireScope | None:
    """The route's key check, found among its dependencies (None: an open route)."""
    todo = list(route.dependant.dependencies)
    while todo:
        dep = todo.pop()
        if isinstance(dep.call, RequireScope):
            return dep.call
        todo.extend(dep.dependencies)
    return None


def document(app: FastAPI) -> None:
    """Replace ``app.openapi`` by FastAPI's document with the scopes and refusals added."""
    plain = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = plain()
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(Refusal=ERROR, InvalidRequest=INVALID)
        components.setdefault("securitySchemes", {}).update(SECURITY)
        for context in routing.iter_route_contexts(app.routes):
            route = _get_api_route_for_openapi(context)
            if route is not None and route.include_in_schema:
                for method in route.methods:
                    _complete(schema["paths"][route.path_format][method.lower()], route)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi


def _complete(operation: dict, route: APIRoute) -> None:
    gorse = route.path_format.startswith("/api/")
    check = scope_of(route)
    codes = set(RAISES.get(route.path_format, ()))
    if check is not None:
        operation["security"] = [{"key": [check.scope]}] + ([{"shopperToken": []}] if check.shopper else [])
        codes |= {401, 403, 429}
    params = operation.get("parameters", [])
    if any(p["in"] == "path" for p in params):
        codes.add(404)
    if "requestBody" in operation:
        codes |= {408, 413}
    if params or "requestBody" in operation:
        codes.add(400 if gorse else 422)
    responses = operation.setdefault("responses", {})
    if gorse:
        responses.pop("422", None)  # Gorse's clients get its plain-text 400, never FastAPI's 422
    for code in sorted(codes):
        body = {"application/json": {"schema": {"$ref": "#/components/schemas/"
                                                        + ("InvalidRequest" if code == 422 else "Refusal")}}}
        if gorse and code not in (408, 413, 503):  # those come from outside Gorse's routes, as JSON
            body = TEXT
        if code == 503 and route.path_format == "/api/health/ready":
            body = {"application/json": {"schema": {"type": "object"}}}
        responses[str(code)] = {"description": WHY[code], "content": body}
        if code == 429:
            responses["429"]["headers"] = {"Retry-After": {"description": "seconds to wait",
                                                           "schema": {"type": "integer"}}}
