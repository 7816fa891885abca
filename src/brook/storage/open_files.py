"""LRU bounds on what inactive segments hold: open `.log` descriptors and index entries in memory.

An active segment always keeps its `.log` open (it is written); an inactive one opens its file on the
first read and closes it again when it falls out of this LRU, so the descriptors a broker holds are about
one per partition plus `max_open`, however many segments there are (Kafka keeps every segment open; its
indexes are mapped lazily — LazyIndex — which this mirrors for index entries, see index.py).

An item is evicted by calling its `release()`; an item that cannot let go right now (unflushed writes,
the active segment) answers False and stays, so a bound can be exceeded briefly, never at the cost of
data. Used from the event loop and from flush threads: a lock guards the order.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

__all__ = ["LruBudget", "Releasable", "SegmentFiles"]


class Releasable(Protocol):
    def release(self) -> bool:
        """Give back the resource; False if it is in use and must stay."""
        ...


class LruBudget:
    """Least recently used items, bounded by the sum of their costs."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(0, capacity)
        self._items: OrderedDict[Releasable, int] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._used

    def __len__(self) -> int:
        return len(self._items)

    def use(self, item: Releasable, cost: int = 1) -> None:
        """`item` now holds `cost` (opened, loaded or touched); evict the least recently used beyond capacity."""
        with self._lock:
            old = self._items.pop(item, None)
            if old is not None:
                self._used -= old
            self._items[item] = cost
            self._used += cost
            if self._used <= self.capacity:
                return
            victims = [i for i in self._items if i is not item]
        for victim in victims:
            if self._used <= self.capacity:
                break
            if victim.release():
                self.forget(victim)

    def forget(self, item: Releasable) -> None:
        """`item` gave its resource back by itself (closed, deleted)."""
        with self._lock:
            cost = self._items.pop(item, None)
            if cost is not None:
                self._used -= cost


class SegmentFiles:
    """The two LRUs a log manager shares between all its logs."""

    def __init__(self, max_open: int = 256, max_index_bytes: int = 64 * 1024 * 1024) -> None:
        self.descriptors = LruBudget(max_open)
        self.index_memory = LruBudget(max_index_bytes)
