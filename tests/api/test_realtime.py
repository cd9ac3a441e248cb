"""An accepted event changes the very next recommendation, with no retraining."""


def test_a_new_shopper_is_personalised_from_the_first_event(shop_server, small_shop):
    item = str(small_shop.item_ids[3])
    with shop_server.client("admin") as c:
        before = c.get("/users/first-timer/recommendations", params={"n": 5}).json()
        assert before["fallback"] == "unknown shopper"
        assert c.post("/events", json={"user_id": "first-timer", "item_id": item,
                                       "event_type": "view"}).json()["added"] == 1
        after = c.get("/users/first-timer/recommendations", params={"n": 5}).json()
        similar = c.get(f"/items/{item}/similar", params={"n": 5}).json()
    assert after["fallback"] is None and {i["model"] for i in after["items"]} == {"itemknn"}
    assert [i["item_id"] for i in after["items"]] == [i["item_id"] for i in similar["items"]]


def test_the_next_list_follows_the_last_event_of_a_known_shopper(shop_server, small_shop):
    user = str(small_shop.user_ids[7])
    with shop_server.client("admin") as c:
        before = [i["item_id"] for i in c.get(f"/users/{user}/recommendations", params={"n": 10}).json()["items"]]
        top = before[0]
        c.post("/events", json={"user_id": user, "item_id": top, "event_type": "purchase",
                                "timestamp": 4e9})
        after = [i["item_id"] for i in c.get(f"/users/{user}/recommendations", params={"n": 10}).json()["items"]]
    assert top not in after  # bought: excluded at once
    assert after != before[1:]  # and the purchase pulled its neighbours in
