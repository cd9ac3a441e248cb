import numpy as np
import pytest

from shelfwise.config import Settings
from shelfwise.data.schemas import EVENT_TYPES, Event
from shelfwise.engine import Engine
from shelfwise.ranking.exclusion import repurchase_intervals


@pytest.fixture(scope="module")
def engine(tmp_path_factory, small_shop):
    home = tmp_path_factory.mktemp("engine")
    eng = Engine(Settings(home=home))
    eng.store.upsert_items(small_shop.items)
    report = eng.ingest(small_shop.events)
    assert report.added == len(small_shop.events)
    eng.train(["itemknn", "rules"])
    return eng


def test_trains_requested_models_plus_fallback(engine):
    assert engine.trained_models() == ["itemknn", "popular", "rules"]


def test_recommend_excludes_history_and_is_served_by_a_fresh_engine(engine, small_shop):
    user = str(small_shop.user_ids[5])
    history = engine.store.user_history(user)
    buys = history[history["event_type"] == "purchase"]
    # the default excludes purchases only, and a consumable only until its learned repurchase
    # interval has passed since the shopper's last purchase of it (every model alike)
    view = engine._load("itemknn")[1]
    intervals = repurchase_intervals(view)
    now = max(float(view.seq_times.max()), float(history["timestamp"].max()))
    last = buys.groupby("item_id")["timestamp"].max()
    due = {i for i, t in last.items() if now - t >= intervals[view.item_index[i]]}
    recs = engine.recommend(user, 10)
    assert len(recs) == 10 and not {r.item_id for r in recs} & (set(last.index) - due)
    everything = engine.recommend(user, 10, exclude_types=list(EVENT_TYPES))
    assert len(everything) == 10 and not {r.item_id for r in everything} & set(history["item_id"])
    fresh = Engine(engine.settings)  # loads the saved models, no retraining
    assert [r.item_id for r in fresh.recommend(user, 10)] == [r.item_id for r in recs]


def test_unknown_shopper_gets_the_popular_list(engine):
    recs = engine.recommend("someone-new", 5)
    assert {r.model for r in recs} == {"popular"}
    assert [r.item_id for r in recs] == [r.item_id for r in engine.recommend("another", 5)]


def test_similar_and_explain(engine, small_shop):
    item = str(small_shop.item_ids[0])
    similar = engine.similar(item, 5)
    assert len(similar) == 5 and item not in {r.item_id for r in similar}
    with pytest.raises(ValueError, match="does not answer similar-item"):
        engine.similar(item, 5, model="popular")
    user = str(small_shop.user_ids[5])
    top = engine.recommend(user, 1)[0]
    reasons = engine.explain(user, top.item_id)
    titles = set(small_shop.items["title"])
    assert reasons and any(t in reasons[0] for t in titles)


def test_ingesting_the_same_events_twice_adds_nothing(engine, small_shop):
    again = engine.ingest(small_shop.events.head(100))
    assert (again.received, again.added, again.duplicates) == (100, 0, 100)
    new = engine.ingest([Event(user_id="fresh", item_id=str(small_shop.item_ids[1]),
                               event_type="view", timestamp=1.7e9)])
    assert new.added == 1


def test_forget_user_deletes_and_stops_personalising(tmp_path, small_shop):
    eng = Engine(Settings(home=tmp_path))
    eng.ingest(small_shop.events)
    eng.train(["itemknn"])
    user = str(small_shop.user_ids[3])
    report = eng.forget_user(user)
    assert report.events == (small_shop.events["user_id"] == user).sum() > 0
    assert eng.store.user_history(user).empty
    assert {r.model for r in eng.recommend(user, 3)} == {"popular"}
    eng.train(["itemknn"])
    assert user not in set(eng._load("itemknn")[1].user_ids)


def test_evaluate_itemknn_beats_most_popular(engine, tmp_path):
    frame = engine.evaluate(["popular", "itemknn", "userknn", "rules"], report_dir=tmp_path)
    assert frame.loc["itemknn", "ndcg@10"] > frame.loc["popular", "ndcg@10"]
    assert (tmp_path / "f1_by_k.png").exists() and (tmp_path / "metrics.csv").exists()


def test_sequential_model_reacts_to_events_since_training(tmp_path, small_shop):
    eng = Engine(Settings(home=tmp_path))
    eng.ingest(small_shop.events)
    eng.train(["sasrec"], params={"sasrec": {"dim": 16, "layers": 1, "heads": 1, "max_len": 10,
                                             "max_epochs": 2}})
    user = str(small_shop.user_ids[7])
    every = list(EVENT_TYPES)  # a viewed item is then not shown again
    before = [r.item_id for r in eng.recommend(user, 5, model="sasrec", exclude_types=every)]
    clicked = before[0]
    eng.ingest([Event(user_id=user, item_id=clicked, event_type="view", timestamp=2e9)])
    after = [r.item_id for r in eng.recommend(user, 5, model="sasrec", exclude_types=every)]
    assert clicked not in after and after != before  # no retrain in between
    newcomer = [Event(user_id="walk-in", item_id=clicked, event_type="view", timestamp=2e9)]
    eng.ingest(newcomer)
    served = eng.recommend("walk-in", 5, model="sasrec", exclude_types=every)
    assert {r.model for r in served} == {"sasrec"} and clicked not in {r.item_id for r in served}


def test_items_without_evidence_are_filled_from_popular_with_a_reason(tmp_path, data_dir):
    eng = Engine(Settings(home=tmp_path))
    eng.import_file(data_dir / "taobao-userbehavior" / "UserBehavior_head.csv", fmt="taobao")
    eng.train(["itemknn"])
    view = eng._load("itemknn")[1]
    model = eng._load("itemknn")[0]
    scores = model.score(np.arange(view.n_users))
    scores[model.seen_.toarray() > 0] = 0
    lonely = str(view.user_ids[int(np.flatnonzero((scores > 0).sum(axis=1) == 0)[0])])  # no neighbour at all
    recs = eng.recommend(lonely, 5, exclude_types=list(EVENT_TYPES))  # nothing touched comes back
    touched = set(eng.store.user_history(lonely)["item_id"])
    assert {r.model for r in recs} == {"popular"}
    assert {r.reason for r in recs} == {"the itemknn model has nothing more for this shopper"}
    assert not {r.item_id for r in recs} & touched
    expected = [r.item_id for r in eng.popular(5 + len(touched)) if r.item_id not in touched][:5]
    assert [r.item_id for r in recs] == expected
