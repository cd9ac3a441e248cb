"""The shared ordered logs the sequence-model scripts sweep (``tuning.py``,
``seq_defaults.py``), as bare events: no catalogue, as ``recommend-batch`` sees a file
without ``--items``. Each user's last event is the test target and is cut off here, so
nothing downstream (tuner, model validation) ever sees it.

- beauty, toys: Amazon 5-core review sequences (S3-Rec preprocessing);
- grocery: Amazon Grocery ``train.csv``;
- yoochoose: YooChoose 100k click sessions (``train_full``), one session per user;
- taobao: the Taobao UserBehavior 2-hour slice (views, favourites, carts, buys);
- movielens: MovieLens-100k ratings in time order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from shelfwise.data.loaders import (
    load_amazon,
    load_amazon_grocery,
    load_recbole,
    load_taobao,
    load_yoochoose,
)
from shelfwise.data.splits import leave_one_out

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LOGS = {
    "beauty": lambda: load_amazon(DATA / "amazon-beauty", "Beauty"),
    "toys": lambda: load_amazon(DATA / "amazon-toys", "Toys_and_Games"),
    "grocery": lambda: load_amazon_grocery(DATA / "amazon-grocery"),
    "yoochoose": lambda: load_yoochoose(
        DATA / "yoochoose-100k" / "yoochoose-clicks-100k_train_full.txt"),
    "taobao": lambda: load_taobao(DATA / "taobao-userbehavior" / "UserBehavior_timeslice.csv"),
    "movielens": lambda: load_recbole(DATA / "movielens-100k", "ml-100k"),
}


def training_events(name: str) -> pd.DataFrame:
    """The log's events without each user's last one (the test target)."""
    return leave_one_out(LOGS[name]().events).train


def describe(events: pd.DataFrame) -> str:
    per_user = events.groupby("user_id").size()
    return (f"{events['user_id'].nunique():,} users, {events['item_id'].nunique():,} items, "
            f"{len(events):,} events, median history {np.median(per_user):.0f}")
