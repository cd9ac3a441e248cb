"""The serving path (``serving.pipeline``): every list the engine answers, and its reasons.

    from shelfwise.serving import ListRequest, Pipeline
"""

from __future__ import annotations

from shelfwise.serving.explain import Explainer
from shelfwise.serving.impressions import ImpressionLog
from shelfwise.serving.pipeline import Pipeline
from shelfwise.serving.sources import FittedSource, ShopSource
from shelfwise.serving.types import Context, ListRequest, Live, Recommendation, ServedList

__all__ = ["Context", "Explainer", "FittedSource", "ImpressionLog", "ListRequest", "Live", "Pipeline",
           "Recommendation", "ServedList", "ShopSource", "one_core_per_request"]


def one_core_per_request() -> None:
    """Score each request on one core in this process: PyTorch's intra-op threads and the
    BLAS / OpenMP pools loaded so far set to 1. A shopper's list is a few small operations,
    which threads only slow down (Beauty hybrid in-process, 2 cores: p50 about 65 ms with
    them, 20 ms without); a server gets its parallelism from concurrent requests instead.
    For serving processes only: training in the same process would use one core too."""
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)  # stays set: the limiter is not used as a context
    except ImportError:
        pass
