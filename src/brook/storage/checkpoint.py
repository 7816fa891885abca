"""Checkpoint files, in Kafka's text format, always replaced atomically.

Layout (UTF-8 text, one item per line):

    0                      version
    N                      number of entries
    <entry>  * N           `topic partition offset` (recovery-point-offset-checkpoint,
                           log-start-offset-checkpoint) or `epoch start_offset` (leader-epoch-checkpoint)

A write goes to `<name>.tmp`, is fsynced, renamed over the old file, and the directory is fsynced, so a
crash leaves either the old or the new file, never a mix (the leader-epoch-checkpoint is written without
the fsyncs on its hot path and made durable at the log's next flush: epoch.py explains why that is safe). A file that does not parse is treated as missing
(logged): every offset in it can be recomputed by recovery, only slower.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from brook.common.files import write_atomically
from brook.common.types import TopicPartition

__all__ = [
    "LEADER_EPOCH_CHECKPOINT",
    "LOG_START_OFFSET_CHECKPOINT",
    "RECOVERY_POINT_CHECKPOINT",
    "read_epoch_checkpoint",
    "read_offset_checkpoint",
    "write_epoch_checkpoint",
    "write_offset_checkpoint",
]

logger = logging.getLogger(__name__)

RECOVERY_POINT_CHECKPOINT = "recovery-point-offset-checkpoint"
LOG_START_OFFSET_CHECKPOINT = "log-start-offset-checkpoint"
LEADER_EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
_VERSION = 0


def _write_lines(path: Path, lines: list[str], *, sync: bool = True) -> None:
    text = f"{_VERSION}\n{len(lines)}\n" + "".join(line + "\n" for line in lines)
    write_atomically(path, text.encode(), sync=sync)


def _read_lines(path: Path) -> list[list[str]] | None:
    try:
        fd = os.open(path, os.O_RDONLY)  # not path.read_text(): one per partition at start-up
    except FileNotFoundError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    text = b"".join(chunks).decode()
    lines = text.splitlines()
    try:
        if int(lines[0]) != _VERSION:
            raise ValueError(f"unknown version {lines[0]!r}")
        count = int(lines[1])
        entries = [line.split() for line in lines[2 : 2 + count]]
        if len(entries) != count:
            raise ValueError(f"expected {count} entries, found {len(entries)}")
        return entries
    except (ValueError, IndexError) as exc:
        logger.warning("ignoring malformed checkpoint file=%s error=%s", path, exc)
        return None


def write_offset_checkpoint(path: Path, offsets: Mapping[TopicPartition, int]) -> None:
    _write_lines(path, [f"{tp.topic} {tp.partition} {offset}" for tp, offset in sorted(offsets.items())])


def read_offset_checkpoint(path: Path) -> dict[TopicPartition, int]:
    entries = _read_lines(path)
    if entries is None:
        return {}
    try:
        return {TopicPartition(topic, int(p)): int(o) for topic, p, o in entries}
    except ValueError as exc:
        logger.warning("ignoring malformed checkpoint file=%s error=%s", path, exc)
        return {}


def write_epoch_checkpoint(path: Path, entries: Iterable[tuple[int, int]], *, sync: bool = True) -> None:
    """sync=False: written and renamed but not fsynced (the leader epoch cache's hot path, see epoch.py)."""
    _write_lines(path, [f"{epoch} {offset}" for epoch, offset in entries], sync=sync)


def read_epoch_checkpoint(path: Path) -> list[tuple[int, int]]:
    entries = _read_lines(path)
    if entries is None:
        return []
    try:
        return [(int(e), int(o)) for e, o in entries]
    except ValueError as exc:
        logger.warning("ignoring malformed checkpoint file=%s error=%s", path, exc)
        return []
