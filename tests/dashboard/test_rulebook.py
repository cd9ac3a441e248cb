"""Rules saved in the store (``serving.rulebook``) serve every process sharing the store: a
second Engine on the same home obeys them within the refresh time, with the audit kept."""

from __future__ import annotations

import time

import pytest

from shelfwise.config import Settings
from shelfwise.data.rules import RuleSet
from shelfwise.engine import Engine
from shelfwise.serving import ListRequest, sources


@pytest.fixture(scope="module")
def two_engines(tmp_path_factory, small_shop):
    home = tmp_path_factory.mktemp("rulebook")
    settings = Settings(home=home, models=["popular", "itemknn"], default_model="itemknn",
                        rules=RuleSet(max_per_brand=3))
    first = Engine(settings)
    first.store.upsert_items(small_shop.items)
    first.ingest(small_shop.events)
    first.train()
    second = Engine(settings)
    yield first, second
    first.close()
    second.close()


def test_saved_rules_serve_another_process_and_are_audited(two_engines, small_shop, monkeypatch):
    monkeypatch.setattr(sources, "CATALOGUE_TTL_S", 0.2)
    first, second = two_engines
    user = str(small_shop.events["user_id"].iloc[0])
    before = [r.item_id for r in second.recommend(user, 10, log=False)]
    assert second.pipeline.shop_rules() == RuleSet(max_per_brand=3)  # none saved: the settings' rules
    saved = RuleSet(hidden_items=[before[0]])
    book = first.pipeline.source.rulebook
    assert book.save(saved, who="k1", before=first.pipeline.shop_rules()) == 1
    time.sleep(0.3)  # the other process re-reads within CATALOGUE_TTL_S
    after = [r.item_id for r in second.recommend(user, 10, log=False)]
    assert before[0] not in after and second.pipeline.shop_rules() == saved
    # a preview replaces the shop's rules for one list and saves nothing
    shown = second.pipeline.recommend(user, ListRequest(n=10, log=False, shop_rules=RuleSet(max_per_brand=3)))
    assert [r.item_id for r in shown] == before
    assert book.current() == (saved, 1)
    (row,) = book.audit()
    assert row["who"] == "k1" and RuleSet.model_validate_json(row["before"]) == RuleSet(max_per_brand=3)
    assert RuleSet.model_validate_json(row["after"]) == saved
