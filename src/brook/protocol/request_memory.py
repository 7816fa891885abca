"""Broker-wide memory for request bytes: Kafka's request memory pool, plus free read buffers to reuse.

Every connection reads into a scratch buffer taken from here only while it has bytes to hold (an idle
connection holds none), and gives it back once its bytes are framed. A request too big for a scratch
buffer is first *reserved* against the pool (`queued.max.request.bytes`): its whole announced size
counts from the moment the size prefix arrives until the request is answered, as in Kafka's
SocketServer, but the bytes themselves are stored only as they arrive, in a buffer that grows, never
one allocated from the prefix. When the pool cannot take a reservation the connection stops reading
until a request is released (so its peer waits in TCP flow control); a reservation is granted while
the pool is empty whatever its size, so one request larger than the pool still gets through alone.

Requests that fit a scratch buffer are not reserved: a well-behaved client's small requests keep
flowing while big reservations (a hostile peer announcing 100 MiB and sending nothing) fill the pool.
"""

from __future__ import annotations

__all__ = ["RequestMemory"]

_MAX_FREE_SCRATCH = 32  # scratch buffers kept for reuse (the rest go back to the allocator)
_MAX_SPARE_BYTES = 16 * 1024 * 1024  # big-frame buffers kept for reuse, in total
_MAX_SPARE_BUFFER = 4 * 1024 * 1024  # a bigger frame buffer is never kept


class RequestMemory:
    """Not thread-safe: owned by the event loop that runs every connection."""

    def __init__(self, *, capacity: int, scratch_bytes: int = 64 * 1024) -> None:
        self.capacity = capacity  # bytes that big requests may reserve at once
        self.scratch_bytes = scratch_bytes
        self.reserved = 0
        self.peak_reserved = 0
        self.scratch_in_use = 0  # scratch buffers connections hold right now
        self._free_scratch: list[bytearray] = []
        self._spare: list[bytearray] = []
        self._spare_bytes = 0

    # --- the pool --------------------------------------------------------------------------------

    def try_reserve(self, nbytes: int) -> bool:
        if self.reserved and self.reserved + nbytes > self.capacity:
            return False
        self.reserved += nbytes
        self.peak_reserved = max(self.peak_reserved, self.reserved)
        return True

    def release(self, nbytes: int) -> None:
        self.reserved -= nbytes
        assert self.reserved >= 0, "released more request memory than was reserved"

    # --- buffers ---------------------------------------------------------------------------------

    def take_scratch(self) -> bytearray:
        self.scratch_in_use += 1
        return self._free_scratch.pop() if self._free_scratch else bytearray(self.scratch_bytes)

    def give_scratch(self, scratch: bytearray) -> None:
        self.scratch_in_use -= 1
        if len(self._free_scratch) < _MAX_FREE_SCRATCH and len(scratch) == self.scratch_bytes:
            self._free_scratch.append(scratch)

    def take_spare(self, nbytes: int) -> bytearray | None:
        """A kept buffer of at least `nbytes` (its pages already resident), or None."""
        for i, buffer in enumerate(self._spare):
            if len(buffer) >= nbytes:
                self._spare_bytes -= len(buffer)
                return self._spare.pop(i)
        return None

    def give_spare(self, buffer: bytearray) -> None:
        size = len(buffer)
        if size <= _MAX_SPARE_BUFFER and self._spare_bytes + size <= _MAX_SPARE_BYTES:
            self._spare.append(buffer)
            self._spare_bytes += size
