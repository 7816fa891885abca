"""Types shared by every layer: topic-partitions, clocks, the error tree."""

from brook.common.clock import Clock, FakeClock, SystemClock
from brook.common.errors import BrookError, ErrorCode
from brook.common.types import TopicPartition

__all__ = ["BrookError", "Clock", "ErrorCode", "FakeClock", "SystemClock", "TopicPartition"]
