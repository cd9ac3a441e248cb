"""Attacks tried against a real server, generated from its own OpenAPI document (every
operation it lists, not a hand list): no key, a wrong key and each scope on every route;
ids shaped like SQL, paths and scripts; oversized bodies and huge numbers; forged dashboard
forms. Whatever is tried, the answer is the documented 4xx or a faithful round trip, never a
500, and no other row changes."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest

from shelfwise.api.keys import IMPLIES

NASTY = ["' OR 1=1 --", "x'; DROP TABLE events; --", "../../etc/passwd", "..\\..\\windows\\win.ini",
         "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "%2e%2e%2f", "{{7*7}}", "${jndi:x}"]
KNOWN_USER, KNOWN_ITEM = "U000079", "P000001"


@pytest.fixture(scope="module")
def armed(attack_server):
    return attack_server


@pytest.fixture(scope="module")
def operations(armed):
    """(method, path template, operation) for every operation of the served document."""
    doc = httpx.get(f"{armed.url}/openapi.json").json()
    ops = [(m.upper(), p, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(ops) >= 70
    return ops


def _required_scope(op) -> str | None:
    for requirement in op.get("security", []):
        if "key" in requirement:
            return requirement["key"][0]
    return None


def _url(path: str, fill: str) -> str:
    return re.sub(r"\{[^}]+\}", fill, path)


def _count(server) -> int:
    from shelfwise.store import open_store

    store = open_store(server.store_url)
    try:
        return store.count_events()
    finally:
        store.close()


def test_every_route_refuses_no_key_a_wrong_key_and_a_scope_it_does_not_grant(armed, operations):
    """The scope each operation needs is the one its document names; each key either gets
    past the check (any answer but 401/403, never a 5xx) or is refused 403. A request that
    gets past is made harmless: made-up ids and a body with an unknown field."""
    before, wrong = _count(armed), []
    clients = {name: armed.client(name) for name in ("public", "read", "write", "admin", "wrong")}
    clients[None] = armed.client(None)
    for method, path, op in operations:
        scope = _required_scope(op)
        url = _url(path, "no-such-id")
        body = {"json": {"attack": 1}} if "requestBody" in op else {}
        for name, client in clients.items():
            res = client.request(method, url, **body)
            if scope is None:
                expected = "open"
            elif name in (None, "wrong"):
                expected = 401
            else:
                expected = "allowed" if scope in IMPLIES.get(name, {name}) else 403
            ok = (res.status_code == expected if isinstance(expected, int)
                  else res.status_code not in (401, 403) and res.status_code < 500)
            if not ok:
                wrong.append(f"{method} {path} with {name}: {res.status_code} (expected {expected}) {res.text[:80]}")
    for client in clients.values():
        client.close()
    assert not wrong, wrong[:10]
    assert _count(armed) == before  # nothing refused or harmless was stored


@pytest.mark.parametrize("nasty", NASTY)
def test_ids_shaped_like_sql_paths_and_scripts_round_trip_and_touch_no_other_row(armed, nasty):
    segment = "/users/" + quote(nasty, safe="")
    with armed.client("admin") as c:
        other = c.get(f"/users/{KNOWN_USER}").json()
        before = _count(armed)
        stored = c.post("/events", json={"user_id": nasty, "item_id": nasty, "event_type": "view", "timestamp": 1e9})
        assert stored.status_code == 200, stored.text
        assert stored.json()["added"] == 1 and _count(armed) == before + 1
        assert c.get(segment).json()["user_id"] == nasty
        assert c.get("/items/" + quote(nasty, safe="")).json()["item_id"] == nasty
        listed = c.get(f"{segment}/recommendations", params={"n": 3})
        assert listed.status_code == 200 and listed.json()["user_id"] == nasty
        assert c.put(segment, json={"attributes": {"note": nasty}}).json()["user_id"] == nasty
        assert c.get(segment).json()["attributes"] == {"note": nasty}
        gorse = c.get("/api/user/" + quote(nasty, safe=""))
        assert gorse.status_code == 200 and gorse.json()["UserId"] == nasty
        found = c.get("/users", params={"q": nasty}).json()["users"]
        assert [u["user_id"] for u in found] == [nasty]  # the search is a search, not SQL
        gone = c.delete(segment).json()
        assert gone["events_deleted"] == 1 and gone["user_id"] == nasty
        assert _count(armed) == before
        assert c.get(f"/users/{KNOWN_USER}").json() == other


def test_a_script_in_an_id_is_shown_escaped_on_the_dashboard(armed):
    script = "<script>alert(1)</script>"
    with armed.client("admin") as c:
        c.post("/events", json={"user_id": script, "item_id": KNOWN_ITEM, "event_type": "view", "timestamp": 1e9})
        cookie = _session(armed, armed.keys["admin"])
        page = c.get("/dashboard/shoppers/" + quote(script, safe=""), headers={"cookie": cookie})
        c.delete("/users/" + quote(script, safe=""))
    assert page.status_code == 200
    assert script not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_every_body_over_one_mebibyte_is_a_413(armed, operations):
    big = b'{"x": "' + b"a" * (1 << 20) + b'"}'
    with armed.client("admin") as c:
        for method, path, op in operations:
            if "requestBody" in op:
                res = c.request(method, _url(path, "no-such-id"), content=big,
                                headers={"content-type": "application/json"})
                assert res.status_code == 413, (method, path, res.status_code)


def test_every_bounded_number_past_its_bound_is_a_4xx_naming_it(armed, operations):
    """``n=10**9``, ``n=10**30`` and every other bounded query number past its maximum."""
    tried = 0
    with armed.client("admin") as c:
        for method, path, op in operations:
            for param in op.get("parameters", []):
                schema = param.get("schema", {})
                bound = schema.get("maximum") or next((s.get("maximum") for s in schema.get("anyOf", [])
                                                       if s.get("maximum")), None)
                if param["in"] != "query" or bound is None:
                    continue
                for value in {int(bound) * 10 + 1, 10**30} if param["name"] == "n" else {int(bound) * 10 + 1}:
                    res = c.request(method, _url(path, KNOWN_USER if "user" in path else KNOWN_ITEM),
                                    params={param["name"]: value})
                    tried += 1
                    assert res.status_code in (400, 422), (path, param["name"], value, res.status_code)
                    assert param["name"] in res.text, (path, res.text[:200])
    assert tried >= 10


def _session(server, key: str) -> str:
    """A dashboard session's cookie header, logged in with ``key`` (the cookie is Secure, so
    an HTTP client keeps it only when told)."""
    res = httpx.post(f"{server.url}/dashboard/login", data={"key": key, "next": "/dashboard/"})
    assert res.status_code == 303, res.text
    return res.headers["set-cookie"].split(";")[0]


def test_dashboard_forms_refuse_a_post_without_the_sessions_csrf_token(armed):
    """Every POST form of the dashboard (its router's own list), with an admin's session:
    no token, or another session's token, is a 403 and changes nothing."""
    from shelfwise.dashboard.web import router

    forms = [r.path for r in router.routes if "POST" in r.methods and not r.path.endswith(("/login", "/logout"))]
    assert len(forms) >= 6, forms
    cookie = _session(armed, armed.keys["admin"])
    other = httpx.get(f"{armed.url}/dashboard/", headers={"cookie": _session(armed, armed.keys["admin"])})
    foreign = re.search(r'name="csrf" value="([^"]+)"', other.text).group(1)
    before = _count(armed)
    with armed.client(None) as c:
        for path in forms:
            url = _url(path, KNOWN_USER if "shoppers" in path else "x")
            for form in ({}, {"csrf": foreign}):
                res = c.post(url, data={**form, "confirm": "yes"}, headers={"cookie": cookie})
                assert res.status_code == 403 and "csrf" in res.text, (path, form, res.status_code)
    assert _count(armed) == before


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_the_same_ids_on_postgresql_round_trip_and_like_wildcards_are_text(server):
    """On the PostgreSQL store: every shaped id is stored, read, changed and forgotten as
    itself; a NUL is a 422 naming the field; ``%`` and ``_`` in a search match themselves."""
    with server.client("admin") as c:
        plain = c.post("/events", json={"user_id": "plain", "item_id": "i", "event_type": "view", "timestamp": 1e9})
        assert plain.json()["added"] == 1
        for nasty in [*NASTY, "100%_off"]:
            segment = "/users/" + quote(nasty, safe="")
            stored = c.post("/events", json={"user_id": nasty, "item_id": nasty, "event_type": "view",
                                              "timestamp": 1e9})
            assert stored.status_code == 200 and stored.json()["added"] == 1, (nasty, stored.text)
            assert c.put(segment, json={"attributes": {"note": nasty}}).json()["user_id"] == nasty
            assert c.get(segment).json()["attributes"] == {"note": nasty}
        for wildcard, expected in (("%", {"100%_off", "%2e%2e%2f"}), ("_", {"100%_off"})):
            found = {u["user_id"] for u in c.get("/users", params={"q": wildcard}).json()["users"]}
            assert found == expected, (wildcard, found)
        nul = c.post("/events", json={"user_id": "A\u0000B", "item_id": "i", "event_type": "view"})
        assert nul.status_code == 422 and "user_id" in nul.text
        for nasty in [*NASTY, "100%_off"]:
            assert c.delete("/users/" + quote(nasty, safe="")).json()["events_deleted"] == 1
        assert c.get("/users").json()["total"] == 1 and c.get("/users/plain").json()["n_events"] == 1
