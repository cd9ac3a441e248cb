"""Amazon Grocery: ``train.csv`` (tab-separated ``user_id item_id time``) and ``item_meta.csv``
(category with complement and substitute item lists)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from shelfwise.data.loaders.base import Dataset, finish, read_delimited
from shelfwise.data.validation import OnError


def load_amazon_grocery(folder: str | Path, on_error: OnError = "fail") -> Dataset:
    folder = Path(folder)
    raw, pre = read_delimited(folder / "train.csv", sep="\t", on_error="skip")
    raw = raw.rename(columns={"time": "timestamp"})
    raw["event_type"] = "purchase"
    items = None
    meta_path = folder / "item_meta.csv"
    if meta_path.exists():
        meta, _ = read_delimited(meta_path, sep="\t", on_error=on_error)
        items = pd.DataFrame({
            "item_id": meta["item_id"],
            "category": meta["i_category"].map(lambda c: [f"category {c}"]),
            "attributes": [
                {"complements": [str(x) for x in json.loads(c or "[]")],
                 "substitutes": [str(x) for x in json.loads(s or "[]")]}
                for c, s in zip(meta["r_complement"], meta["r_substitute"], strict=True)],
        })
    return finish("amazon-grocery", raw, on_error, str(folder / "train.csv"), pre, items=items)
