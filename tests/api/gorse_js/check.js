// gorsejs 0.4.8, Gorse's TypeScript client, against a shelfwise server: every method of the
// client, with the answers' shapes and meaning checked. Run by tests/api/test_gorse_js.py:
//   GORSE_ENDPOINT=http://127.0.0.1:PORT GORSE_SECRET=<key> node check.js
// Prints the methods it called, one JSON line, and exits non-zero on the first failure.
"use strict";

const assert = require("node:assert/strict");
const { Gorse, GorseException } = require("gorsejs");

const client = new Gorse({ endpoint: process.env.GORSE_ENDPOINT, secret: process.env.GORSE_SECRET });
const called = new Set();
const call = (name, ...args) => {
  called.add(name);
  return client[name](...args);
};
const timestamp = "2022-08-07T00:26:46Z";

async function rejects(promise, code) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GorseException, String(error));
    assert.equal(error.code, code);
    return error;
  }
  assert.fail(`expected a ${code}`);
}

async function walk(fetchPage, key, n) {
  // every page of a cursor walk, as gorsejs pages: { n, Cursor }
  const ids = [];
  let cursor = "";
  do {
    const page = await fetchPage({ n, Cursor: cursor });
    ids.push(...page[key].map((x) => (key === "Feedback" ? `${x.FeedbackType}/${x.UserId}/${x.ItemId}`
      : x.UserId || x.ItemId)));
    cursor = page.Cursor;
  } while (cursor);
  return ids;
}

async function main() {
  // users: a round trip, an update of one field, pages, a deleted one is 404
  assert.equal(await call("insertUser", { UserId: "js-user", Labels: ["a", "b", "c"], Comment: "comment" }), 1);
  assert.deepEqual(await call("getUser", "js-user"), { UserId: "js-user", Labels: ["a", "b", "c"], Comment: "comment" });
  assert.equal(await call("insertUsers", [{ UserId: "js-u1" }, { UserId: "js-u2", Comment: "two" }]), 2);
  assert.equal(await call("updateUser", "js-user", { UserId: "js-user", Comment: "changed" }), 1);
  assert.deepEqual(await client.getUser("js-user"), { UserId: "js-user", Labels: ["a", "b", "c"], Comment: "changed" });
  const users = await walk((options) => call("getUsers", options), "Users", 40);
  assert.deepEqual(users, [...new Set(users)].sort());
  assert.ok(["js-u1", "js-u2", "js-user", "probe"].every((u) => users.includes(u)));
  assert.equal(await call("deleteUser", "js-u1"), 1);
  await rejects(client.getUser("js-u1"), 404);

  // items: a round trip, an update, categories added and removed, pages, a deleted one is 404
  const item = { ItemId: "js-item", IsHidden: true, Labels: ["a", "b", "c"], Categories: ["d", "e"],
    Timestamp: timestamp, Comment: "comment" };
  assert.equal(await call("upsertItem", item), 1);
  assert.deepEqual(await call("getItem", "js-item"), item);
  assert.equal(await call("updateItem", "js-item", { IsHidden: false, Comment: "shown" }), 1);
  assert.deepEqual(await client.getItem("js-item"), { ...item, IsHidden: false, Comment: "shown" });
  assert.equal(await call("insertItemCategory", "js-item", "f"), 1);
  assert.equal(await call("deleteItemCategory", "js-item", "d"), 1);
  assert.deepEqual((await client.getItem("js-item")).Categories, ["e", "f"]);
  assert.equal(await call("upsertItems", [{ ...item, ItemId: "js-i2" }, { ...item, ItemId: "js-i3" }]), 2);
  const items = await walk((options) => call("getItems", options), "Items", 7);
  assert.deepEqual(items, [...new Set(items)].sort());
  assert.ok(["K1", "K2", "K3", "K4", "js-i2", "js-i3", "js-item"].every((i) => items.includes(i)));

  // feedback: inserted (a stored row is kept), upserted (it is replaced), read every way
  const like = { FeedbackType: "like", UserId: "js-user", ItemId: "js-item", Timestamp: timestamp };
  assert.equal(await call("insertFeedbacks", [like,
    { FeedbackType: "read", UserId: "js-user", ItemId: "js-i2", Timestamp: timestamp },
    { FeedbackType: "read", UserId: "js-user", ItemId: "js-i3", Timestamp: timestamp }]), 3);
  assert.equal(await call("upsertFeedbacks", [{ ...like, Timestamp: "2022-08-08T00:00:00Z" }]), 1);
  assert.equal(await client.insertFeedbacks([{ ...like, Timestamp: "2022-08-09T00:00:00Z" }]), 1);
  const row = await call("getFeedback", { type: "like", userId: "js-user", itemId: "js-item" });
  assert.deepEqual(row, { ...like, Timestamp: "2022-08-08T00:00:00Z", Value: 0, Comment: "" });
  assert.equal((await call("getUserFeedback", "js-user")).length, 3);
  assert.deepEqual((await call("getUserFeedbackByType", "js-user", "read")).map((f) => f.ItemId), ["js-i2", "js-i3"]);
  assert.deepEqual((await call("getItemFeedback", "js-item")).map((f) => f.FeedbackType), ["like"]);
  assert.equal((await call("getItemFeedbackByType", "js-item", "read")).length, 0);
  const everything = await call("getFeedbacks");
  assert.equal(everything.Feedback.length, 10);
  assert.ok(everything.Cursor.length > 0);
  const reads = await walk((options) => client.getFeedbacks("read", options), "Feedback", 1000);
  assert.ok(reads.includes("read/js-user/js-i2") && reads.every((k) => k.startsWith("read/")));
  assert.deepEqual(reads, [...new Set(reads)]);
  assert.deepEqual(await call("deleteFeedback", { type: "read", userId: "js-user", itemId: "js-i3" }), { RowAffected: 1 });
  assert.deepEqual((await client.getUserFeedbackByType("js-user", "read")).map((f) => f.ItemId), ["js-i2"]);

  // recommendations (from the shop's planted corner: see gorse_shop.py)
  const recommended = await call("getRecommend", { userId: "probe", cursorOptions: { n: 4 } });
  assert.equal(recommended.length, 4);
  assert.deepEqual(recommended.slice(0, 2), ["K2", "K3"]);
  assert.ok(!recommended.includes("K1"));
  assert.deepEqual(await client.getRecommend({ userId: "probe", category: "planted" }), ["K2", "K3"]);
  const session = await call("getSessionRecommend",
    [{ FeedbackType: "like", UserId: "anonymous", ItemId: "K1", Timestamp: timestamp }], { cursorOptions: { n: 2 } });
  assert.deepEqual(session.map((s) => s.Id), ["K2", "K3"]);
  assert.ok(session[0].Score > session[1].Score);
  const neighbours = await call("getItemNeighbors", { itemId: "K2", cursorOptions: { n: 2 } });
  assert.deepEqual(neighbours.map((s) => s.Id), ["K1", "K3"]);
  const near = await call("getUserNeighbors", { userId: "kfan-00", cursorOptions: { n: 3 } });
  assert.deepEqual(near.map((s) => s.Id), ["kfan-01", "kfan-02", "kfan-03"]);
  const popular = await call("getPopular", { cursorOptions: { n: 5 } });
  assert.equal(popular.length, 5);
  assert.ok(popular.every((p, k) => k === 0 || popular[k - 1].Score >= p.Score));
  const latest = await call("getLatest", { category: "planted", cursorOptions: { n: 2 } });
  assert.deepEqual(latest.map((s) => s.Id), ["K3", "K2"]);

  assert.equal(await call("deleteItem", "js-i3"), 1);
  await rejects(client.getItem("js-i3"), 404);
  const refused = await rejects(new Gorse({ endpoint: process.env.GORSE_ENDPOINT, secret: "wrong" }).getUser("probe"), 401);
  assert.equal(refused.message, "unauthorized");

  const methods = Object.getOwnPropertyNames(Gorse.prototype).filter((m) => m !== "constructor").sort();
  console.log(JSON.stringify({ called: [...called].sort(), methods }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
