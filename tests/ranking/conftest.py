import numpy as np
import pandas as pd

from shelfwise.data.interactions import Interactions

DAY = 86400.0


def frame(rows) -> pd.DataFrame:
    """Events from (user, item, type, day) tuples."""
    ev = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    ev["timestamp"] = ev["timestamp"].astype(float) * DAY
    return ev


def build(rows, items: list[str], users: list[str], catalogue: pd.DataFrame | None = None):
    return Interactions.from_events(frame(rows), items=catalogue,
                                    item_ids=np.array(items, dtype=object),
                                    user_ids=np.array(users, dtype=object))
