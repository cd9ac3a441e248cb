"""Tmall logs: the IJCAI-15 repeat-buyer sample and the multi-behaviour benchmark pairs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shelfwise.data.loaders.base import Dataset, finish, read_delimited
from shelfwise.data.validation import OnError

IJCAI_ACTIONS = {"0": "click", "1": "cart", "2": "favorite", "3": "purchase"}


def load_tmall_ijcai15(path: str | Path, year: int = 2014, on_error: OnError = "fail") -> Dataset:
    """IJCAI-15 user log: ``action_type`` 0 click, 1 cart, 2 favourite, 3 buy; ``time_stamp``
    is MMDD within ``year`` (the contest's Double-11 season is 2014)."""
    raw, pre = read_delimited(path, on_error="skip")
    raw = raw.drop(columns=[c for c in raw.columns if c.startswith("Unnamed") or c == ""])
    mmdd = raw["time_stamp"].str.zfill(4)
    stamp = pd.to_datetime(str(year) + mmdd, format="%Y%m%d", errors="coerce", utc=True)
    raw["timestamp"] = ((stamp - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).astype(
        "float64").astype("string").where(stamp.notna(), raw["time_stamp"])
    raw["event_type"] = raw["action_type"].map(IJCAI_ACTIONS).fillna(raw["action_type"])
    keep = ["user_id", "item_id", "event_type", "timestamp", "line"]
    extra_cols = [c for c in ("cat_id", "seller_id", "brand_id") if c in raw]
    items = None
    if extra_cols:
        items = raw[["item_id", *extra_cols]].drop_duplicates("item_id", keep="last")
        items = pd.DataFrame({"item_id": items["item_id"],
                              "attributes": items[extra_cols].to_dict("records")})
    return finish("tmall-ijcai15", raw[keep], on_error, str(path), pre, items=items)


def load_tmall_multibehavior(folder: str | Path, on_error: OnError = "fail") -> Dataset:
    """Multi-behaviour pairs ``user item`` (no timestamps): ``train.txt`` purchases with
    ``collect.txt`` favourites and ``cart.txt`` carts as events; ``validation.txt`` and
    ``test.txt`` purchases are returned in ``extra`` as fixed hold-out splits."""
    folder = Path(folder)
    if folder.is_file():  # any of the folder's files names the folder
        folder = folder.parent
    parts, pre = [], []
    for name, kind in (("train", "purchase"), ("collect", "favorite"), ("cart", "cart")):
        raw, bad = read_delimited(folder / f"{name}.txt", sep=" ", header=False,
                                  names=["user_id", "item_id"], on_error="skip")
        parts.append(raw.assign(event_type=kind, timestamp="0"))
        pre += bad
    raw = pd.concat(parts, ignore_index=True)
    ds = finish("tmall-multibehavior", raw, on_error, str(folder), pre)
    for name in ("validation", "test"):
        split, _ = read_delimited(folder / f"{name}.txt", sep=" ", header=False,
                                  names=["user_id", "item_id"], on_error=on_error)
        ds.extra[name] = split.drop(columns="line").assign(event_type="purchase")
    return ds
