"""Test helpers: fakes that pass the same contract suites as the real thing, and batch builders."""

from brook.testing.batches import make_batch
from brook.testing.memory_log import MemoryLog

__all__ = ["MemoryLog", "make_batch"]
