"""Loaders for real formats. Each returns a ``Dataset`` of validated canonical events.

``LOADERS`` maps the ``shelfwise import --format`` names to loader functions.
"""

from shelfwise.data.loaders.amazon import load_amazon_grocery
from shelfwise.data.loaders.base import Dataset, read_delimited
from shelfwise.data.loaders.generic import load_events
from shelfwise.data.loaders.gorse import load_gorse
from shelfwise.data.loaders.recbole import load_recbole
from shelfwise.data.loaders.retail import load_online_retail
from shelfwise.data.loaders.sequences import load_amazon, load_sequences
from shelfwise.data.loaders.sessions import load_otto, load_yoochoose
from shelfwise.data.loaders.taobao import load_taobao
from shelfwise.data.loaders.tmall import load_tmall_ijcai15, load_tmall_multibehavior

LOADERS = {
    "events": load_events,
    "taobao": load_taobao,
    "tmall-ijcai15": load_tmall_ijcai15,
    "tmall-multibehavior": load_tmall_multibehavior,
    "sequences": load_sequences,
    "recbole": load_recbole,
    "yoochoose": load_yoochoose,
    "otto": load_otto,
    "online-retail": load_online_retail,
    "amazon-grocery": load_amazon_grocery,
    "gorse": load_gorse,
}

__all__ = ["LOADERS", "Dataset", "load_amazon", "load_amazon_grocery", "load_events",
           "load_online_retail", "load_otto", "load_recbole", "load_sequences", "load_taobao",
           "load_tmall_ijcai15", "load_tmall_multibehavior", "load_yoochoose", "read_delimited"]
