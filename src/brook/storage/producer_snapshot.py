"""`producer-snapshots`: every partition's idempotent-producer state, written at clean shutdown so a restart
does not replay the logs' batch headers (Kafka keeps `<offset>.snapshot` files in each partition directory for
the same reason; brook keeps one file per log dir, taken at close only).

Layout (UTF-8 JSON, one object, in the log dir beside the offset checkpoints):

    {"version": 2,
     "partitions": {
       "<topic>-<partition>": {
         "log_end_offset": 1234,                the log end offset the state is exact for
         "producers": [[producer_id, epoch, last_timestamp_ms, has_older_state,
                        [[first_sequence, last_sequence, first_offset, last_offset, timestamp_ms], ...],
                        coordinator_epoch, current_txn_first_offset], ...],
         "unreplicated_txns": [[producer_id, first_offset, last_offset, is_aborted], ...],
         "last_marker_offset": 1200},
       "<topic>-<partition>": {"log_end_offset": 0}, ...}}

"producers" and "unreplicated_txns" are left out when empty and "last_marker_offset" when -1 (most partitions
of a wide broker have no producer state: one small entry each). coordinator_epoch is -1 for a producer no
marker named; current_txn_first_offset is -1 unless its transaction is open; unreplicated_txns are completed
transactions whose marker was not yet below the high watermark (they hold the last stable offset back).

Written at close (temp file, fsync, rename, fsync the dir: one file per log dir, not one per partition, which
cost a file creation and a rename per partition at close and an open, a read and an unlink per partition at
start: seconds at 10,000 partitions). Read and deleted (the delete fsynced) when the log dir loads, before any
log can change; each partition's entry is used when the partition opens, only if its log_end_offset equals
the log's then. A partition with no entry replays its log: one that was not hosted at the close, one whose
snapshot write failed, any after a crash or an abandoned start (which write no file), and any after a restart
that already deleted the file. Anything that changed a log since the close (recovery cutting a torn tail)
makes that partition replay too; a file that does not parse (a torn write) is ignored whole.

Releases before this file kept `producer-snapshot` in each partition directory: the log loader removes one
as a leftover, and that partition replays once.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from brook.common.files import fsync_dir, write_atomically
from brook.storage.producer_state import CachedBatch, CompletedTxn, ProducerStateManager

__all__ = [
    "LEGACY_PRODUCER_SNAPSHOT",
    "PRODUCER_SNAPSHOTS",
    "encode_producer_state",
    "read_producer_snapshots",
    "restore_producer_state",
    "write_producer_snapshots",
]

logger = logging.getLogger(__name__)

PRODUCER_SNAPSHOTS = "producer-snapshots"
LEGACY_PRODUCER_SNAPSHOT = "producer-snapshot"  # per partition directory, before version 2
_VERSION = 2


def encode_producer_state(log_end_offset: int, state: ProducerStateManager) -> dict[str, Any]:
    """One partition's entry: `state`, exact for the log up to `log_end_offset`."""
    entry: dict[str, Any] = {"log_end_offset": log_end_offset}
    producers = [
        [pid, epoch, last_ts, older, [[b.first_sequence, b.last_sequence, b.first_offset, b.last_offset,
                                       b.timestamp_ms] for b in batches], coordinator_epoch, txn_first]
        for pid, epoch, last_ts, older, batches, coordinator_epoch, txn_first in state.entries()
    ]  # fmt: skip
    if producers:
        entry["producers"] = producers
    unreplicated = [
        [t.producer_id, t.first_offset, t.last_offset, t.is_aborted] for t in state.unreplicated()
    ]
    if unreplicated:
        entry["unreplicated_txns"] = unreplicated
    if state.last_marker_offset != -1:
        entry["last_marker_offset"] = state.last_marker_offset
    return entry


def write_producer_snapshots(log_dir: Path, entries: Mapping[str, dict[str, Any]]) -> None:
    """`entries` by partition directory name (encode_producer_state's)."""
    text = json.dumps({"version": _VERSION, "partitions": entries}, separators=(",", ":"))
    write_atomically(log_dir / PRODUCER_SNAPSHOTS, text.encode())


def read_producer_snapshots(log_dir: Path) -> dict[str, Any]:
    """The entries the last clean close saved in `log_dir`, by partition directory name ({} if none). The file
    is deleted, durably, either way: from now on the logs change and only the next close writes a valid one."""
    path = log_dir / PRODUCER_SNAPSHOTS
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return {}
    os.unlink(path)
    fsync_dir(log_dir)
    try:
        snapshot = json.loads(text)
        if not isinstance(snapshot, dict) or snapshot.get("version") != _VERSION:
            raise ValueError(f"unsupported version {snapshot.get('version')!r}")
        partitions = snapshot["partitions"]
        if not isinstance(partitions, dict):
            raise TypeError("partitions is not an object")
        return partitions
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("ignoring malformed producer snapshots file=%s error=%r", path, exc)
        return {}


def restore_producer_state(
    entry: Any, log_end_offset: int, producer_id_expiration_ms: int
) -> ProducerStateManager | None:
    """The state `entry` saved if it is exact for `log_end_offset`, else None (the caller replays the log)."""
    if entry is None:
        return None
    try:
        if entry["log_end_offset"] != log_end_offset:
            return None
        state = ProducerStateManager(producer_id_expiration_ms)
        for pid, epoch, last_ts, older, batches, coordinator_epoch, txn_first in entry.get("producers", ()):
            state.restore(
                int(pid),
                int(epoch),
                int(last_ts),
                bool(older),
                [CachedBatch(*map(int, b)) for b in batches],
                int(coordinator_epoch),
                int(txn_first),
            )
        state.restore_unreplicated(
            [
                CompletedTxn(int(pid), int(first), int(last), bool(aborted))
                for pid, first, last, aborted in entry.get("unreplicated_txns", ())
            ]
        )
        state.last_marker_offset = int(entry.get("last_marker_offset", -1))
        return state
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("ignoring malformed producer snapshot entry error=%r", exc)
        return None
