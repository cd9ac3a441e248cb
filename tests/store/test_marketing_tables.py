"""The store's portrait aggregates and campaigns, on SQLite and PostgreSQL alike: batches add
up, the later last category wins, consent is read, forgetting a shopper removes their rows."""

import pandas as pd
import pytest


def stat(user, first, last, **sums):
    row = {"user_id": user, "first_ts": first, "last_ts": last, "n_events": 1, "n_purchases": 0, "spend": 0.0,
           "last_purchase_ts": None, "activity": 1.0, "rel_bought_sum": 0.0, "rel_bought_n": 0,
           "rel_viewed_sum": 0.0, "rel_viewed_n": 0, "last_category": None, "last_category_ts": None}
    return {**row, **sums}


def test_aggregates_add_up(store):
    store.add_portrait_aggregates(
        [stat("u", 10.0, 20.0, n_purchases=1, spend=5.0, last_purchase_ts=20.0, last_category="A",
              last_category_ts=20.0)],
        [{"user_id": "u", "kind": "category", "key": "A", "value": 2.0}], [{"prev": "A", "next": "B", "count": 1.0}])
    # a late batch: earlier first time, no purchase, an older category that must not win
    store.add_portrait_aggregates(
        [stat("u", 5.0, 15.0, last_category="B", last_category_ts=15.0)],
        [{"user_id": "u", "kind": "category", "key": "A", "value": 1.5}], [{"prev": "A", "next": "B", "count": 2.0}])
    stats, counts = store.portrait_aggregates(["u", "nobody"])
    row = stats.iloc[0]
    assert (row["first_ts"], row["last_ts"], row["n_events"], row["n_purchases"]) == (5.0, 20.0, 2, 1)
    assert row["spend"] == 5.0 and row["last_purchase_ts"] == 20.0 and row["activity"] == 2.0
    assert row["last_category"] == "A" and row["last_category_ts"] == 20.0
    assert counts["value"].tolist() == [3.5]
    assert store.category_transitions()["count"].tolist() == [3.0]
    assert store.last_categories(["u", "x"]) == {"u": ("A", 20.0)}
    assert len(store.portrait_aggregates()[0]) == 1
    store.upsert_users(pd.DataFrame([{"user_id": "u", "consent": False}, {"user_id": "v", "consent": True}]))
    assert store.withheld(["u", "v", "w"]) == {"u"} and store.withheld() == {"u"}
    store.delete_user("u")
    assert store.portrait_aggregates(["u"])[0].empty and store.portrait_aggregates(["u"])[1].empty


def test_campaigns(store):
    store.create_campaign("c1", "spring", 100.0, {"budget": 3},
                          [("a", "treatment", 1), ("b", "control", 2), ("c", "treatment", 3)])
    assert store.campaign("c1") == {"campaign_id": "c1", "name": "spring", "created_at": 100.0,
                                    "spec": {"budget": 3}}
    assert store.campaign("nope") is None
    assert store.campaign_members("c1").values.tolist() == [["a", "treatment", 1], ["b", "control", 2],
                                                             ["c", "treatment", 3]]
    assert store.list_campaigns() == [{"campaign_id": "c1", "name": "spring", "created_at": 100.0}]
    with pytest.raises(ValueError, match="arm must be one of"):
        store.create_campaign("c2", "x", 1.0, {}, [("a", "both", 1)])
    store.delete_user("b")
    assert store.campaign_members("c1")["user_id"].tolist() == ["a", "c"]
