"""Taobao UserBehavior (Tianchi): ``user,item,category,behavior,unix_ts`` with no header;
behaviour in pv / fav / cart / buy."""

from __future__ import annotations

from pathlib import Path

from shelfwise.data.loaders.base import Dataset, finish, read_delimited
from shelfwise.data.validation import OnError

COLUMNS = ["user_id", "item_id", "category_id", "event_type", "timestamp"]


def load_taobao(path: str | Path, on_error: OnError = "fail") -> Dataset:
    raw, pre = read_delimited(path, header=False, names=COLUMNS, on_error="skip")
    items = raw[["item_id", "category_id"]].dropna().drop_duplicates("item_id", keep="last")
    items = items.assign(category=items["category_id"].map(lambda c: [c]))[["item_id", "category"]]
    return finish("taobao", raw, on_error, str(path), pre, items=items.reset_index(drop=True))
