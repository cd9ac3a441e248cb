import numpy as np
import pandas as pd
import pytest

from shelfwise.data.interactions import Interactions


def checkerboard(n_users: int = 20, n_items: int = 20, withhold_diagonal: bool = True):
    """Users and items split into two halves by parity; user u likes items of its parity.
    The diagonal pair (u, u) is withheld, so a model that learns the structure recommends it."""
    rows = []
    t = 0
    for u in range(n_users):
        for i in range(n_items):
            if (u + i) % 2 == 0 and not (withhold_diagonal and u == i):
                rows.append((f"u{u}", f"i{i}", "purchase", float(t)))
                t += 1
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "event_type", "timestamp"])
    # the catalogue says the same as the behaviour: items come in two kinds, by parity
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(n_items)],
                          "title": [f"{'even' if i % 2 == 0 else 'odd'} thing {i}" for i in range(n_items)],
                          "category": [["Shop", "even" if i % 2 == 0 else "odd"] for i in range(n_items)]})
    return Interactions.from_events(
        events, items=items, item_ids=np.array([f"i{i}" for i in range(n_items)], dtype=object),
        user_ids=np.array([f"u{u}" for u in range(n_users)], dtype=object))


@pytest.fixture(scope="session")
def board():
    return checkerboard()
