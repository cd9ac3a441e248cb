"""Reasons true when they are served: "bought with" only from purchase baskets, and a "this
week" count that equals the live count over the week it names."""

from __future__ import annotations

import time

import pandas as pd

from shelfwise.config import Settings
from shelfwise.engine import Engine


def _events(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])


def test_a_pair_seen_together_only_in_views_never_yields_bought_with(tmp_path):
    """A and B are viewed together by every shopper and never bought together; C and D are
    bought together. The rules model (mined from purchase baskets on a log with purchases)
    links C to D only, and no list served says "bought with" for a pair not bought together."""
    t0 = 1.7e9
    rows = []
    for k in range(30):
        u = f"u{k}"
        rows += [(u, "A", "view", t0 + 10 * k), (u, "B", "view", t0 + 10 * k + 1)]
        if k % 2 == 0:
            rows += [(u, "C", "purchase", t0 + 10 * k + 2), (u, "D", "purchase", t0 + 10 * k + 3)]
        else:
            rows += [(u, "E", "view", t0 + 10 * k + 2)]
    rows += [("only-a", "A", "view", t0 + 1000), ("only-c", "C", "purchase", t0 + 1000)]
    engine = Engine(Settings(home=tmp_path))
    engine.ingest(_events(rows))
    engine.train(["rules", "itemknn"])
    rules, view = engine._load("rules")
    assert rules.basket_types_ == ("purchase",)
    a, b, c, d = (view.item_index[i] for i in "ABCD")
    assert rules.similarity_[a, b] == 0 and rules.similarity_[c, d] > 0
    for model in ("rules", "itemknn"):
        for user in ("only-a", "only-c", "u1", "u2"):
            for r in engine.recommend(user, 4, model, exclude_seen=False):
                if "bought with" in (r.reason or ""):
                    # the anchor named was bought together with the item
                    assert {r.item_id, r.reason.rsplit(" ", 1)[-1]} <= {"C", "D"}, r
    served = engine.recommend("only-c", 3, "rules", exclude_seen=False)
    assert served[0].item_id == "D" and served[0].reason == "often bought with C"


def test_a_this_week_count_is_the_live_count_over_the_week(tmp_path):
    """Three shoppers touch item X in the last week (one of them twice), a fourth ten days
    ago; the popular list says "this week (3 shoppers)", as the live counters count them."""
    now = time.time()
    day = 86400.0
    rows = [(f"old{k}", "Y", "view", now - 400 * day) for k in range(10)]  # Y leads by all-time count
    rows += [("s1", "X", "view", now - day), ("s1", "X", "cart", now - day + 5), ("s2", "X", "view", now - 2 * day),
             ("s3", "X", "purchase", now - 6 * day), ("s4", "X", "view", now - 10 * day)]
    engine = Engine(Settings(home=tmp_path))
    engine.store.upsert_items([{"item_id": "X", "title": "Kettle", "category": ["Home", "Kitchen"]},
                               {"item_id": "Y", "title": "Mug", "category": ["Home", "Kitchen"]}])
    engine.ingest(_events(rows))
    engine.train(["popular"])
    by_id = {r.item_id: r.reason for r in engine.popular(2)}
    assert by_id["X"] == "popular in Home > Kitchen this week (3 shoppers)"
    assert "this week" not in (by_id["Y"] or "")
    # the count follows the live counters: a fourth shopper this week makes it 4
    engine.ingest(_events([("s5", "X", "view", now - 60)]))
    assert {r.item_id: r.reason for r in engine.popular(2)}["X"].endswith("this week (4 shoppers)")
