"""RecBole atomic files: ``NAME.inter`` / ``.item`` / ``.user``, tab-separated, with typed
headers such as ``user_id:token`` and ``rating:float``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shelfwise.data.loaders.base import Dataset, finish, read_delimited
from shelfwise.data.validation import OnError


def _atomic(path: Path, on_error: OnError):
    frame, bad = read_delimited(path, sep="\t", on_error=on_error)
    types = {}
    renamed = {}
    for col in frame.columns:
        if ":" in col:
            name, kind = col.split(":", 1)
            renamed[col], types[name] = name, kind
    return frame.rename(columns=renamed), types, bad


def load_recbole(folder: str | Path, name: str | None = None, event_type: str = "review",
                 on_error: OnError = "fail") -> Dataset:
    """Ratings become ``review`` events whose value is the rating (so the matrix weight is
    the rating); item and user side files become catalogue and user frames."""
    folder = Path(folder)
    if folder.is_file():  # a path to the .inter file names its folder and dataset
        folder, name = folder.parent, name or folder.stem
    inters = sorted(folder.glob("*.inter")) if folder.is_dir() else []
    if name is None and not inters:
        raise FileNotFoundError(f"{folder}: no RecBole .inter file there (give the dataset folder)")
    name = name or inters[0].stem
    inter, _, pre = _atomic(folder / f"{name}.inter", "skip")
    raw = inter.rename(columns={"rating": "value"})
    if "event_type" not in raw:
        raw["event_type"] = event_type
    if "timestamp" not in raw:
        raw["timestamp"] = "0"
    items = users = None
    if (folder / f"{name}.item").exists():
        it, _types, _ = _atomic(folder / f"{name}.item", on_error)
        title = next((c for c in it.columns if "title" in c), None)
        other = [c for c in it.columns if c not in ("item_id", title, "line")]
        items = pd.DataFrame({
            "item_id": it["item_id"],
            "title": it[title] if title else None,
            "attributes": it[other].to_dict("records"),
        })
    if (folder / f"{name}.user").exists():
        us, _, _ = _atomic(folder / f"{name}.user", on_error)
        other = [c for c in us.columns if c not in ("user_id", "line")]
        users = pd.DataFrame({"user_id": us["user_id"], "attributes": us[other].to_dict("records")})
    return finish(name, raw, on_error, str(folder / f"{name}.inter"), pre,
                  items=items, users=users)
