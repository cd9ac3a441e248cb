"""Every loader on its real file in ../shared/data, against exact counts.

The expected numbers were tallied independently of shelfwise (``wc -l``, ``cut | sort -u``,
and a plain ``csv`` script for the retail netting) and, where it states them, agree with
../shared/data/README.md.
"""

import pandas as pd
import pytest

from shelfwise.data.loaders import (
    load_amazon,
    load_amazon_grocery,
    load_events,
    load_online_retail,
    load_otto,
    load_recbole,
    load_taobao,
    load_tmall_ijcai15,
    load_tmall_multibehavior,
    load_yoochoose,
)
from shelfwise.data.validation import MalformedInput

CASES = {
    # name: (loader, path, events, users, items)
    "beauty": (lambda d: load_amazon(d / "amazon-beauty", "Beauty"), 198_502, 22_363, 12_101),
    "toys": (lambda d: load_amazon(d / "amazon-toys", "Toys_and_Games"), 167_597, 19_412, 11_924),
    "taobao-head": (lambda d: load_taobao(d / "taobao-userbehavior/UserBehavior_head.csv"),
                    4_321, 43, 3_276),
    "taobao-slice": (lambda d: load_taobao(d / "taobao-userbehavior/UserBehavior_timeslice.csv"),
                     110_300, 66_454, 84_793),
    "tmall-ijcai15": (lambda d: load_tmall_ijcai15(d / "tmall-ijcai15-sample/data_sample.csv"),
                      13_260, 100, 7_248),
    "tmall-multibehavior": (lambda d: load_tmall_multibehavior(d / "tmall-multibehavior"),
                            181_428 + 221_514 + 1_996, 40_904, 11_953),
    "movielens-recbole": (lambda d: load_recbole(d / "movielens-100k"), 100_000, 943, 1_682),
    "yoochoose": (lambda d: load_yoochoose(
        d / "yoochoose-100k/yoochoose-clicks-100k_train_full.txt"), 70_278, 17_794, 2_933),
    "otto": (lambda d: load_otto(d / "otto-sample/train.jsonl"), 862, 20, 510),
    "retail-france": (lambda d: load_online_retail(d / "online-retail/france.csv"),
                      8_310, 87, 1_515),
    "retail-germany": (lambda d: load_online_retail(d / "online-retail/germany.csv"),
                       8_993, 94, 1_655),
    "amazon-grocery": (lambda d: load_amazon_grocery(d / "amazon-grocery"), 121_892, 14_681, 8_687),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_loader_reads_exact_counts(data_dir, name):
    loader, n_events, n_users, n_items = CASES[name]
    ds = loader(data_dir)
    assert (len(ds.events), ds.n_users, ds.n_items) == (n_events, n_users, n_items)
    assert not ds.errors
    assert ds.events["timestamp"].notna().all()


def test_behaviours_are_mapped(data_dir):
    taobao = load_taobao(data_dir / "taobao-userbehavior/UserBehavior_head.csv")
    assert taobao.events["event_type"].value_counts().to_dict() == {
        "view": 3926, "cart": 190, "favorite": 128, "purchase": 77}
    otto = load_otto(data_dir / "otto-sample/train.jsonl")
    assert otto.events["event_type"].value_counts().to_dict() == {
        "click": 800, "cart": 52, "purchase": 10}
    ijcai = load_tmall_ijcai15(data_dir / "tmall-ijcai15-sample/data_sample.csv")
    assert ijcai.events["event_type"].value_counts().to_dict() == {
        "click": 11891, "favorite": 839, "purchase": 493, "cart": 37}
    # IJCAI-15 MMDD 1018 is 18 October 2014
    first = ijcai.events.iloc[0]
    assert pd.Timestamp(first["timestamp"], unit="s") == pd.Timestamp("2014-10-18")


def test_sequences_keep_order_and_attributes(data_dir):
    ds = load_amazon(data_dir / "amazon-beauty", "Beauty")
    first = ds.events[ds.events["user_id"] == "1"]
    assert first["item_id"].tolist() == ["1", "2", "3", "4", "5"]
    assert first["timestamp"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    attrs = ds.items.set_index("item_id")["attributes"]
    assert attrs["4"] == {"attribute_ids": ["1", "2", "3"]}


def test_retail_nets_out_returns(data_dir):
    ds = load_online_retail(data_dir / "online-retail/france.csv")
    assert ds.notes == ["66 lines without a customer id dropped",
                        "149 return lines netted out; 32 purchase lines fully returned dropped"]
    assert (ds.events["event_type"] == "purchase").all()
    assert ds.items.set_index("item_id").loc["22728", "title"] == "ALARM CLOCK BAKELIKE PINK"


def test_recbole_ratings_and_side_files(data_dir):
    ds = load_recbole(data_dir / "movielens-100k")
    assert ds.events["value"].between(1, 5).all()
    assert ds.items.set_index("item_id").loc["1", "title"] == "Toy Story"
    assert len(ds.users) == 943


def test_tmall_multibehavior_ships_fixed_test_split(data_dir):
    ds = load_tmall_multibehavior(data_dir / "tmall-multibehavior")
    assert set(ds.extra) == {"validation", "test"}
    assert ds.events["event_type"].value_counts().to_dict() == {
        "favorite": 221_514, "purchase": 181_428, "cart": 1_996}


def test_generic_loader_with_mapping_and_formats(tmp_path):
    csv = tmp_path / "shop.csv"
    csv.write_text("customer,sku,kind,when\nc1,s1,view,2024-01-01T10:00:00\nc1,s2,buy,1704103200\n")
    ds = load_events(csv, mapping={"customer": "user_id", "sku": "item_id", "kind": "event_type",
                                   "when": "timestamp"})
    assert ds.events["event_type"].tolist() == ["view", "purchase"]
    assert ds.events["timestamp"].tolist() == [1704103200.0, 1704103200.0]
    ds.events.to_parquet(tmp_path / "shop.parquet")
    assert len(load_events(tmp_path / "shop.parquet").events) == 2
    ds.events.drop(columns="context").to_json(tmp_path / "shop.jsonl", orient="records",
                                              lines=True)
    assert load_events(tmp_path / "shop.jsonl").events["event_id"].tolist() == \
        ds.events["event_id"].tolist()


def test_ragged_rows_are_reported_by_line(tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("user_id,item_id,event_type,timestamp\n"
                   "u1,i1,view,1\n"
                   "u2,i2,view,2,EXTRA\n"
                   "u3,i3,view,3\n"
                   "u4,i4,teleport,4\n")
    with pytest.raises(MalformedInput) as exc:
        load_events(csv)
    assert [(e.line, e.field) for e in exc.value.errors] == [(3, "row"), (5, "event_type")]
    ds = load_events(csv, on_error="skip")
    assert [(e.line, e.field) for e in ds.errors] == [(3, "row"), (5, "event_type")]
    assert ds.events["user_id"].tolist() == ["u1", "u3"]


def test_generic_loader_on_a_real_file_with_mapping_and_defaults(data_dir):
    ds = load_events(data_dir / "yoochoose-100k/yoochoose-clicks-100k_train_full.txt", fmt="tsv",
                     mapping={"SessionId": "user_id", "ItemId": "item_id", "Time": "timestamp"},
                     defaults={"event_type": "click"})
    assert (len(ds.events), ds.n_users, ds.n_items) == (70_278, 17_794, 2_933)
    same = load_yoochoose(data_dir / "yoochoose-100k/yoochoose-clicks-100k_train_full.txt")
    assert ds.events["timestamp"].equals(same.events["timestamp"])
