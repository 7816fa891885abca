"""Durable partition logs: segments, indexes, recovery, retention and compaction. No asyncio, no sockets.

Callers outside storage use `brook.storage.api` (PartitionLog, LogConfig, ...), `FileLog` and `LogManager`.
"""

from brook.storage.api import AppendInfo, FileSlice, LogConfig, PartitionLog, ReadResult, TimestampOffset
from brook.storage.log import FileLog
from brook.storage.manager import LogManager

__all__ = [
    "AppendInfo",
    "FileLog",
    "FileSlice",
    "LogConfig",
    "LogManager",
    "PartitionLog",
    "ReadResult",
    "TimestampOffset",
]
