"""Gorse's ``/api`` on the wire, against a real server: keys and plain-text errors, trailing
slashes, cursors, the ``X-API-Version`` header, and what the lists mean (the known answers
of ``gorse_shop``'s planted corner, and a shopper's feedback counting at once)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.api.gorse_shop import shop


@pytest.fixture(scope="session")
def gorse(tmp_path_factory):
    s = shop(tmp_path_factory.getbasetemp())
    yield s
    s.stop()


def test_keys_and_plain_text_errors(gorse):
    bare = httpx.get(f"{gorse.url}/api/user/kfan-00", timeout=10)
    assert (bare.status_code, bare.text) == (401, "unauthorized")
    wrong = httpx.get(f"{gorse.url}/api/user/kfan-00", headers={"X-API-Key": "sw_nope_nope"}, timeout=10)
    assert (wrong.status_code, wrong.text) == (401, "unauthorized")
    assert httpx.get(f"{gorse.url}/api/health/ready", timeout=10).json()["Ready"] is True  # no key needed
    with gorse.http(gorse.read_key) as reader:
        assert reader.get("/api/user/kfan-00").json() == {"UserId": "kfan-00", "Labels": None, "Comment": ""}
        refused = reader.post("/api/user", json={"UserId": "nobody"})
        assert refused.status_code == 403 and "write" in refused.text
    with gorse.http() as c:
        missing = c.get("/api/user/no-such-user")
        assert (missing.status_code, missing.text) == (404, "user no-such-user not found")
        assert missing.headers["content-type"].startswith("text/plain")
        assert c.get("/api/item/no-such-item").text == "item no-such-item not found"
        bad_n = c.get("/api/users", params={"n": "ten"})
        assert (bad_n.status_code, bad_n.text) == (400, 'strconv.Atoi: parsing "ten": invalid syntax')
        not_json = c.post("/api/feedback", content=b"[{oops", headers={"content-type": "application/json"})
        assert not_json.status_code == 400
        assert c.post("/api/feedback", json={"UserId": "a"}).status_code == 400  # a list is expected
        bad_time = c.post("/api/feedback", json=[{"FeedbackType": "star", "UserId": "a", "ItemId": "b",
                                                   "Timestamp": "not a time"}])
        assert (bad_time.status_code, bad_time.text) == (400, 'Could not find format for "not a time"')
        for when in ("2200-01-01T00:00:00Z", "9999-12-31T00:00:00Z", "1900-01-01T00:00:00Z"):
            far = c.post("/api/feedback", json=[{"FeedbackType": "star", "UserId": "a", "ItemId": "b",
                                                 "Timestamp": when}])
            assert far.status_code == 400 and "between 1970-01-01 and 2100-01-01" in far.text
        for body in ([{"FeedbackType": "star", "UserId": "g\u0000", "ItemId": "b"}],):
            assert c.post("/api/feedback", json=body).status_code == 400
        assert c.post("/api/user", json={"UserId": "g\u0000"}).status_code == 400
        assert c.post("/api/item", json={"ItemId": "n\u0000"}).status_code == 400
        assert c.get("/api/recommend/probe", params={"write-back-delay": "soon"}).status_code == 400
        nowhere = c.get("/api/no/such/route")
        assert (nowhere.status_code, nowhere.text) == (404, "404: Page Not Found")
        assert c.put("/api/users").status_code == 405


def test_paths_cursors_and_headers(gorse):
    with gorse.http() as c:
        plain = c.get("/api/recommend/probe", params={"n": 3}).json()
        assert plain == c.get("/api/recommend/probe/", params={"n": 3}).json()  # pygorse adds the slash
        assert all(isinstance(i, str) for i in plain)
        scored = c.get("/api/recommend/probe", params={"n": 3}, headers={"X-API-Version": "2"}).json()
        assert [s["Id"] for s in scored] == plain and all(isinstance(s["Score"], float) for s in scored)
        assert c.get("/api/recommend/probe", params={"n": 2, "offset": 1}).json() == plain[1:3]
        # gorsejs sends Cursor capitalised; both spellings walk the same pages
        first = c.get("/api/users", params={"n": 5}).json()
        lower = c.get("/api/users", params={"n": 5, "cursor": first["Cursor"]}).json()
        upper = c.get("/api/users", params={"n": 5, "Cursor": first["Cursor"]}).json()
        assert lower == upper and lower["Users"][0]["UserId"] > first["Users"][-1]["UserId"]
        assert c.get("/api/users", params={"cursor": "%%%"}).status_code == 400
        # typed feedback pages walk every row of the type once (event rows and side rows alike)
        for kind in ("read", "review"):  # a behaviour's, and a type stored aside
            keys, cursor = [], ""
            while True:
                page = c.get(f"/api/feedback/{kind}", params={"n": 997, "cursor": cursor}).json()
                keys += [(f["FeedbackType"], f["UserId"], f["ItemId"]) for f in page["Feedback"]]
                if not (cursor := page["Cursor"]):
                    break
            assert len(keys) == len(set(keys)) and {k for k in gorse.feedback_keys if k[0] == kind} <= set(keys)
            assert {k[0] for k in keys} == {kind}
        # the same category as a path segment or a query parameter
        assert c.get("/api/recommend/probe/planted").json() == ["K2", "K3"]
        assert c.get("/api/recommend/probe", params={"category": "planted"}).json() == ["K2", "K3"]
        assert c.get("/api/recommend/probe/no-such-category").json() == []


def test_known_answers(gorse):
    with gorse.http() as c:
        # item neighbours come from the item model: K2 shares 30 fans with K1, K3 10; K4 is hidden
        neighbours = c.get("/api/item/K1/neighbors", params={"n": 5}).json()
        assert [n["Id"] for n in neighbours[:2]] == ["K2", "K3"] and "K4" not in [n["Id"] for n in neighbours]
        assert neighbours[0]["Score"] > neighbours[1]["Score"] > 0
        assert [n["Id"] for n in c.get("/api/item/K1/neighbors/planted").json()] == ["K2", "K3"]
        assert c.get("/api/item/no-such-item/neighbors").json() == []
        # fans share their items: kfan-00's nearest users are other fans of K1, K2, K3 and K4
        near = c.get("/api/user/kfan-00/neighbors", params={"n": 9}).json()
        assert [u["Id"] for u in near] == [f"kfan-{k:02d}" for k in range(1, 10)]
        assert near[0]["Score"] == pytest.approx(1.0)
        # latest items: the planted ones are newest, the hidden one never listed
        latest = c.get("/api/latest", params={"n": 3}).json()
        assert latest == [{"Id": f"K{k}", "Score": float(1767225600 + (k - 1) * 86400)} for k in (3, 2, 1)]
        in_planted = c.get("/api/latest/planted", params={"user-id": "probe", "n": 2}).json()
        assert [i["Id"] for i in in_planted] == ["K3", "K2"]
        assert c.get("/api/non-personalized/latest", params={"n": 3}).json() == latest
        popular = c.get("/api/popular", params={"n": 5}).json()
        scores = [p["Score"] for p in popular]
        assert len(popular) == 5 and scores == sorted(scores, reverse=True)
        assert c.get("/api/non-personalized/popular", params={"n": 5}).json() == popular
        fan = c.get(f"/api/item/{popular[0]['Id']}/feedback").json()[0]["UserId"]  # user-id: not their items
        without = c.get("/api/popular", params={"n": 5, "user-id": fan}).json()
        assert len(without) == 5 and popular[0]["Id"] not in [p["Id"] for p in without]


def test_feedback_counts_at_once(gorse):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with gorse.http() as c:
        star = [{"FeedbackType": "star", "UserId": "rt-user", "ItemId": "K1", "Timestamp": now}]
        assert c.post("/api/feedback", json=star).json() == {"RowAffected": 1}
        first = c.get("/api/recommend/rt-user", params={"n": 6}).json()
        assert first[:2] == ["K2", "K3"] and "K1" not in first  # a new shopper, personalised from one event
        # a new feedback changes the next list at once: K2 is the shopper's now
        c.post("/api/feedback", json=[{**star[0], "ItemId": "K2"}])
        second = c.get("/api/recommend/rt-user", params={"n": 6}).json()
        assert "K2" not in second and second != first
        # feedback of a type shelfwise does not train on is stored, and hides the item too
        c.post("/api/feedback", json=[{"FeedbackType": "dislike", "UserId": "rt-user", "ItemId": second[0],
                                       "Timestamp": now}])
        assert second[0] not in c.get("/api/recommend/rt-user", params={"n": 6}).json()
        assert {f["FeedbackType"] for f in c.get("/api/user/rt-user/feedback").json()} == {"star", "dislike"}
        # write-back: the items shown become "read" feedback, which hides them once it is due
        shown = c.get("/api/recommend/rt-user", params={"n": 2, "write-back-type": "read"}).json()
        assert not set(shown) & set(c.get("/api/recommend/rt-user", params={"n": 6}).json())
        later = c.get("/api/recommend/rt-user", params={"n": 1, "write-back-type": "read",
                                                         "write-back-delay": "1h30m"}).json()
        typed = c.get(f"/api/feedback/read/rt-user/{later[0]}").json()
        assert typed["FeedbackType"] == "read" and typed["Timestamp"] > now
        listed = {f["ItemId"] for f in c.get("/api/user/rt-user/feedback/read").json()}
        assert listed == set(shown)  # the delayed one is listed only once its time has come
        # hiding an item binds the next list at once
        c.patch("/api/item/K3", json={"IsHidden": True})
        assert "K3" not in c.get("/api/recommend/probe", params={"n": 6}).json()
        c.patch("/api/item/K3", json={"IsHidden": False})
        assert "K3" in c.get("/api/recommend/probe", params={"n": 6}).json()
        # overwrite (PUT) replaces a row; insert (POST) keeps it
        c.put("/api/feedback", json=[{**star[0], "Value": 2, "Comment": "again"}])
        c.post("/api/feedback", json=[{**star[0], "Value": 9}])
        row = c.get("/api/feedback/star/rt-user/K1").json()
        assert (row["Value"], row["Comment"]) == (2.0, "again")
        assert c.delete("/api/feedback/star/rt-user/K1").json() == {"RowAffected": 1}
        assert c.get("/api/feedback/star/rt-user/K1").status_code == 404
        assert c.get("/api/feedback/rt-user/K1").json() == []
