"""S3-Rec / SASRec sequence text (``user item1 item2 ...``, oldest first) and its
``item2attributes.json`` (item -> attribute ids such as brand and categories)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from shelfwise.data.loaders.base import Dataset, finish
from shelfwise.data.validation import OnError, RowError


def load_sequences(path: str | Path, attributes: str | Path | None = None,
                   event_type: str = "purchase", on_error: OnError = "fail") -> Dataset:
    """One event per sequence position; the position is the timestamp (the files carry
    order, not time), so leave-one-out takes each user's last item as in the papers."""
    path = Path(path)
    users, items, pos, lines, bad = [], [], [], [], []
    with path.open(encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, start=1):
            tokens = text.split()
            if not tokens:
                continue
            if len(tokens) < 2:
                bad.append(RowError(lineno, "row", "a sequence needs a user and an item"))
                continue
            users.extend([tokens[0]] * (len(tokens) - 1))
            items.extend(tokens[1:])
            pos.extend(range(len(tokens) - 1))
            lines.extend([lineno] * (len(tokens) - 1))
    raw = pd.DataFrame({"user_id": users, "item_id": items, "event_type": event_type,
                        "timestamp": np.asarray(pos, dtype=np.float64), "line": lines})
    item_frame = None
    if attributes is not None:
        attr = json.loads(Path(attributes).read_text())
        item_frame = pd.DataFrame({
            "item_id": list(attr.keys()),
            "attributes": [{"attribute_ids": [str(a) for a in v]} for v in attr.values()]})
    return finish(path.stem, raw, on_error, str(path), bad, items=item_frame)


def load_amazon(folder: str | Path, name: str, on_error: OnError = "fail") -> Dataset:
    """An ``amazon-*`` folder of ../shared/data: ``NAME.txt`` + ``NAME_item2attributes.json``."""
    folder = Path(folder)
    attr = folder / f"{name}_item2attributes.json"
    return load_sequences(folder / f"{name}.txt", attr if attr.exists() else None,
                          on_error=on_error)
