"""pygorse 0.5.1, Gorse's own Python client (sync ``Gorse`` and ``AsyncGorse``), against a real
shelfwise server: every method of each client, with the answers' shapes and meaning checked,
and the pygorse README's example run unchanged."""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import re
import textwrap
from datetime import UTC, datetime

import pytest
from gorse import AsyncGorse, Gorse, GorseException

from tests.api.gorse_shop import shop


@pytest.fixture(scope="session")
def gorse(tmp_path_factory):
    s = shop(tmp_path_factory.getbasetemp())
    yield s
    s.stop()


def public(cls) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


def stamp(day: int) -> str:
    return datetime(2024, 3, day, 12, 0, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_sync_client_every_method(gorse):
    client = Gorse(gorse.url, gorse.key)
    called = set()

    def call(name, *args, **kwargs):
        called.add(name)
        return getattr(client, name)(*args, **kwargs)

    # a user round-trips; a deleted one is 404
    user = {"UserId": "py-user", "Labels": {"gender": "F", "age": 31}, "Comment": "a shopper"}
    assert call("insert_user", user) == {"RowAffected": 1}
    assert call("get_user", "py-user") == user
    assert call("insert_users", [{"UserId": "py-u2", "Labels": ["x"]}, {"UserId": "py-u3"}]) == {"RowAffected": 2}
    assert client.get_user("py-u2") == {"UserId": "py-u2", "Labels": ["x"], "Comment": ""}
    assert call("delete_user", "py-u3") == {"RowAffected": 1}
    with pytest.raises(GorseException) as missing:
        client.get_user("py-u3")
    assert (missing.value.status_code, missing.value.message) == (404, "user py-u3 not found")

    # an item round-trips, an update changes only what it names, a deleted one is 404
    item = {"ItemId": "py-item", "IsHidden": False, "Categories": ["books", "sale"],
            "Timestamp": "2024-03-01T10:00:00.5Z", "Labels": ["paper", "new"], "Comment": "a book"}
    assert call("insert_item", item) == {"RowAffected": 1}
    assert call("get_item", "py-item") == item
    assert call("update_item", "py-item", labels=["used"], comment="a used book") == {"RowAffected": 1}
    assert client.get_item("py-item") == {**item, "Labels": ["used"], "Comment": "a used book"}
    client.insert_item({**item, "ItemId": "py-gone"})
    assert call("delete_item", "py-gone") == {"RowAffected": 1}
    with pytest.raises(GorseException) as gone:
        client.get_item("py-gone")
    assert (gone.value.status_code, gone.value.message) == (404, "item py-gone not found")

    # search: the words of the comment
    found = call("search_items", "used book", n=5)
    assert [i["ItemId"] for i in found] == ["py-item"]

    # feedback round-trips, one row per (type, user, item), values and comments kept
    assert call("insert_feedback", "star", "py-user", "py-item", stamp(2), value=4.5) == {"RowAffected": 1}
    assert call("insert_feedbacks", [
        {"FeedbackType": "read", "UserId": "py-user", "ItemId": "P000001", "Timestamp": stamp(3)},
        {"FeedbackType": "read", "UserId": "py-user", "ItemId": "P000002", "Timestamp": stamp(4),
         "Comment": "seen twice"},
        {"FeedbackType": "read", "UserId": "py-user", "ItemId": "P000002", "Timestamp": stamp(5)},
    ]) == {"RowAffected": 3}
    reads = call("list_feedbacks", "read", "py-user")
    assert reads == [
        {"FeedbackType": "read", "UserId": "py-user", "ItemId": "P000001", "Value": 0.0, "Timestamp": stamp(3),
         "Comment": ""},
        {"FeedbackType": "read", "UserId": "py-user", "ItemId": "P000002", "Value": 0.0, "Timestamp": stamp(4),
         "Comment": "seen twice"}]  # POST keeps the row stored first, as Gorse
    assert client.list_feedbacks("star", "py-user")[0]["Value"] == 4.5
    assert call("delete_feedback", "py-user", "P000002") == {"RowAffected": 1}
    assert [f["ItemId"] for f in client.list_feedbacks("read", "py-user")] == ["P000001"]

    # feedback pages walk every row once
    rows, cursor = call("get_feedbacks", 700)
    while cursor:
        page, cursor = client.get_feedbacks(700, cursor)
        rows += page
    keys = [(f["FeedbackType"], f["UserId"], f["ItemId"]) for f in rows]
    assert len(keys) == len(set(keys))
    assert gorse.feedback_keys <= set(keys)
    assert ("star", "py-user", "py-item") in keys

    # item and user pages walk every id once, in order
    ids, cursor = [], None
    page, cursor = call("get_items", 7)
    ids += [i["ItemId"] for i in page]
    while cursor:
        page, cursor = client.get_items(7, cursor)
        ids += [i["ItemId"] for i in page]
    assert ids == sorted(set(ids)) and set(gorse.item_ids) | {"py-item"} <= set(ids)
    users, cursor = call("get_users", 50)
    while cursor:
        page, cursor = client.get_users(50, cursor)
        users += page
    user_ids = [u["UserId"] for u in users]
    assert user_ids == sorted(set(user_ids)) and {"py-user", "py-u2"} <= set(user_ids)
    assert set(gorse.user_ids) <= set(user_ids) and "py-u3" not in user_ids

    # recommendations: scored, the shopper's own items left out, from the item model
    recs = call("get_recommend", "probe", n=4)
    assert [r.id for r in recs][:2] == ["K2", "K3"] and "K1" not in [r.id for r in recs]
    assert recs[0].score >= recs[1].score > 0
    assert [r.id for r in client.get_recommend("probe", category="planted", n=4)] == ["K2", "K3"]
    assert [n["Id"] for n in call("get_neighbors", "K1", n=2)] == ["K2", "K3"]
    session = call("session_recommend", [{"FeedbackType": "star", "UserId": "anon", "ItemId": "K2",
                                          "Timestamp": stamp(1)}], n=2)
    assert [s["Id"] for s in session] == ["K1", "K3"]

    assert called == public(Gorse)


def test_async_client_every_method(gorse):
    client = AsyncGorse(gorse.url, gorse.key)

    async def run() -> set[str]:
        called = set()

        async def call(name, *args, **kwargs):
            called.add(name)
            return await getattr(client, name)(*args, **kwargs)

        user = {"UserId": "pa-user", "Labels": ["vip"], "Comment": "async"}
        assert await call("insert_user", user) == {"RowAffected": 1}
        assert await call("insert_users", [{"UserId": "pa-u2"}]) == {"RowAffected": 1}
        assert await call("get_user", "pa-user") == user
        item = {"ItemId": "pa-item", "IsHidden": True, "Categories": ["planted"], "Timestamp": "2023-01-01T00:00:00Z",
                "Labels": None, "Comment": ""}
        assert await call("insert_item", item) == {"RowAffected": 1}
        assert await call("get_item", "pa-item") == item
        assert await call("update_item", "pa-item", is_hidden=False) == {"RowAffected": 1}
        assert (await client.get_item("pa-item"))["IsHidden"] is False
        assert [i["ItemId"] for i in await call("search_items", "planted 3")] == ["K3"]
        assert await call("insert_feedback", "like", "pa-user", "pa-item", stamp(6)) == {"RowAffected": 1}
        assert await call("insert_feedbacks", [{"FeedbackType": "like", "UserId": "pa-user", "ItemId": "K1",
                                                "Timestamp": stamp(7)}]) == {"RowAffected": 1}
        likes = await call("list_feedbacks", "like", "pa-user")
        assert [(f["ItemId"], f["Timestamp"]) for f in likes] == [("K1", stamp(7)), ("pa-item", stamp(6))]
        rows, cursor = await call("get_feedbacks", 5)
        assert len(rows) == 5 and cursor
        items, cursor = await call("get_items", 3)
        assert len(items) == 3 and cursor
        users, cursor = await call("get_users", 3)
        assert len(users) == 3 and cursor
        recs = await call("get_recommend", "pa-user", category="planted", n=3)
        assert {r.id for r in recs} <= {"K2", "K3"} and recs  # K1 and pa-item are the user's; K4 hidden
        assert [n["Id"] for n in await call("get_neighbors", "K1", n=1, offset=1)] == ["K3"]
        session = await call("session_recommend", [{"FeedbackType": "like", "UserId": "x", "ItemId": "K1",
                                                    "Timestamp": stamp(1)}], n=1)
        assert [s["Id"] for s in session] == ["K2"]
        assert await call("delete_feedback", "pa-user", "K1") == {"RowAffected": 1}
        assert await call("delete_item", "pa-item") == {"RowAffected": 1}
        assert await call("delete_user", "pa-u2") == {"RowAffected": 1}
        with pytest.raises(GorseException) as missing:
            await client.get_user("pa-u2")
        assert missing.value.status_code == 404
        return called

    assert asyncio.run(run()) == public(AsyncGorse)


def readme_examples() -> list[str]:
    """The Python blocks of the README shipped in pygorse's package metadata."""
    text = importlib.metadata.metadata("pygorse").json["description"]
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_examples_run_unchanged(gorse):
    sync_block, async_block = readme_examples()
    assert "client.get_recommend('bob', n=10)" in sync_block

    def point(code: str) -> str:  # the README's server and key are placeholders for the shop's
        return code.replace("'http://127.0.0.1:8087'", repr(gorse.url)).replace("'api_key'", repr(gorse.key))

    scope: dict = {}
    exec(compile(point(sync_block), "pygorse-README", "exec"), scope)
    recs = scope["client"].get_recommend("bob", n=10)
    starred = {"vuejs:vue", "d3:d3", "dogfalo:materialize", "mozilla:pdf.js", "moment:moment"}
    assert len(recs) == 10 and not starred & {r.id for r in recs}  # popular items: bob is new to the models
    assert {f["ItemId"] for f in scope["client"].list_feedbacks("star", "bob")} == starred
    assert scope["client"].get_item("d3:d3")["ItemId"] == "d3:d3"  # created by its feedback (auto_insert_item)

    async_code = "async def main():\n" + textwrap.indent(point(async_block), "    ")
    exec(compile(async_code, "pygorse-README-async", "exec"), scope)
    asyncio.run(scope["main"]())
