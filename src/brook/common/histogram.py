"""A fixed-bucket latency histogram, cheap enough to observe once per request.

Observing is one bisect and two additions (no allocation, no lock): the event loop owns the request
histograms. A histogram observed from worker threads (log flushes) takes `LockedHistogram`. The
bucket bounds are upper bounds in milliseconds, inclusive, as Prometheus' `le` is; one more bucket
past the last bound counts everything larger (`+Inf`).
"""

from __future__ import annotations

import threading
from bisect import bisect_left

__all__ = ["LATENCY_BUCKETS_MS", "Histogram", "LockedHistogram"]

# 0.1 ms .. 30 s: a produce on an idle broker takes well under 1 ms, a long-poll fetch up to fetch.max.wait.ms
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
    30000.0,
)  # fmt: skip


class Histogram:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS_MS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def snapshot(self) -> tuple[list[tuple[str, int]], float]:
        """(le, observations <= le) for every bound and `+Inf` (Prometheus' bucket series), and the sum."""
        total = 0
        buckets: list[tuple[str, int]] = []
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += n
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
        return buckets, self.sum


class LockedHistogram(Histogram):
    """For observations from several threads; reads take the same lock."""

    __slots__ = ("_lock",)

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS_MS) -> None:
        super().__init__(bounds)
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        with self._lock:
            super().observe(value)

    def snapshot(self) -> tuple[list[tuple[str, int]], float]:
        with self._lock:
            return super().snapshot()
