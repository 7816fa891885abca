"""Test support shipped with brook: a real broker process for tests, fakes that pass the same
contract suites as the real thing, and batch builders."""

from brook.testing.batches import make_batch
from brook.testing.broker_process import BrookProcess
from brook.testing.memory_log import MemoryLog

__all__ = ["BrookProcess", "MemoryLog", "make_batch"]
