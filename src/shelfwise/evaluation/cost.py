"""Cost measurement: wall time and peak resident memory of a block of work.

Peak memory is sampled from the process RSS by a background thread (every 5 ms), so it
includes native allocations (BLAS, implicit, torch) that tracemalloc cannot see. It reports
the rise over the RSS at the start of the block.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import psutil


@dataclass
class Cost:
    seconds: float = 0.0
    peak_mb: float = 0.0


class measure:
    """``with measure() as cost: ...`` then read ``cost.seconds`` and ``cost.peak_mb``."""

    def __init__(self, interval: float = 0.005):
        self.cost = Cost()
        self._interval = interval
        self._proc = psutil.Process()
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._proc.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> Cost:
        self._base = self._peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self._t0 = time.perf_counter()
        return self.cost

    def __exit__(self, *exc) -> None:
        self.cost.seconds = time.perf_counter() - self._t0
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._proc.memory_info().rss)
        self.cost.peak_mb = (self._peak - self._base) / 2**20
