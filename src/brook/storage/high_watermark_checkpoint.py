"""The high watermark checkpoint of one log dir: `replication-offset-checkpoint`, Kafka's file and format.

Layout (UTF-8 text, written by checkpoint.py's offset-checkpoint writer):

    0                            version
    N                            number of partitions in this log dir
    <topic> <partition> <hw>     one line per partition hosted in this dir

The broker writes it periodically (replica.high.watermark.checkpoint.interval.ms) and at clean shutdown,
on a worker thread: a temp file, fsync, rename, fsync of the dir, so a crash leaves the old or the new
file. A restarted replica starts its HW there (capped at its log end offset), never at its log end: what
lies past the last checkpointed HW may be an unreplicated tail that a failover takes back, and consumers
must not read it. A partition missing from the file starts at its log start offset, as in Kafka.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from brook.common.types import TopicPartition
from brook.storage.checkpoint import read_offset_checkpoint, write_offset_checkpoint

__all__ = ["REPLICATION_OFFSET_CHECKPOINT", "read_high_watermarks", "write_high_watermarks"]

REPLICATION_OFFSET_CHECKPOINT = "replication-offset-checkpoint"


def read_high_watermarks(log_dir: Path) -> dict[TopicPartition, int]:
    """The HWs checkpointed in `log_dir` ({} if there is no file yet or it does not parse)."""
    return read_offset_checkpoint(log_dir / REPLICATION_OFFSET_CHECKPOINT)


def write_high_watermarks(log_dir: Path, high_watermarks: Mapping[TopicPartition, int]) -> None:
    """Replace the checkpoint of `log_dir` atomically (blocking: call it off the event loop)."""
    write_offset_checkpoint(log_dir / REPLICATION_OFFSET_CHECKPOINT, high_watermarks)
