"""`producer-snapshot`: a partition's idempotent-producer state, written at clean shutdown so a restart does
not replay the log's batch headers (Kafka keeps `<offset>.snapshot` files for the same reason; brook keeps
one, taken at close only).

Layout (UTF-8 JSON, one object):

    {"version": 1,
     "log_end_offset": 1234,                  the log end offset the state is exact for
     "producers": [[producer_id, epoch, last_timestamp_ms, has_older_state,
                    [[first_sequence, last_sequence, first_offset, last_offset, timestamp_ms], ...],
                    coordinator_epoch, current_txn_first_offset], ...],
     "unreplicated_txns": [[producer_id, first_offset, last_offset, is_aborted], ...],
     "last_marker_offset": -1}

coordinator_epoch is -1 for a producer no marker named; current_txn_first_offset is -1 unless its
transaction is open; unreplicated_txns are completed transactions whose marker was not yet below the
high watermark (they hold the last stable offset back). Version 0 (no transactions) is still read.

Written at close (not fsynced: the log manager's close makes the whole dir durable before its
clean-shutdown marker), read and deleted when the partition opens. It is used only if its
log_end_offset equals the log's at open: anything that changed the log since (recovery cutting a torn
tail, a later crash after a restart that already deleted it) makes the partition replay the log instead.
A file that does not parse (a torn write after a power loss) is ignored the same way.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from brook.common.files import write_atomically
from brook.storage.producer_state import CachedBatch, CompletedTxn, ProducerStateManager

__all__ = ["PRODUCER_SNAPSHOT", "take_producer_snapshot", "write_producer_snapshot"]

logger = logging.getLogger(__name__)

PRODUCER_SNAPSHOT = "producer-snapshot"
_VERSION = 1


def write_producer_snapshot(directory: Path, log_end_offset: int, state: ProducerStateManager) -> None:
    producers = [
        [pid, epoch, last_ts, older, [[b.first_sequence, b.last_sequence, b.first_offset, b.last_offset,
                                       b.timestamp_ms] for b in batches], coordinator_epoch, txn_first]
        for pid, epoch, last_ts, older, batches, coordinator_epoch, txn_first in state.entries()
    ]  # fmt: skip
    unreplicated = [
        [t.producer_id, t.first_offset, t.last_offset, t.is_aborted] for t in state.unreplicated()
    ]
    text = json.dumps(
        {
            "version": _VERSION,
            "log_end_offset": log_end_offset,
            "producers": producers,
            "unreplicated_txns": unreplicated,
            "last_marker_offset": state.last_marker_offset,
        }
    )
    write_atomically(directory / PRODUCER_SNAPSHOT, text.encode(), sync=False)


def take_producer_snapshot(
    directory: Path, log_end_offset: int, producer_id_expiration_ms: int
) -> ProducerStateManager | None:
    """The state saved at the last clean close if it is exact for `log_end_offset`, else None. The file is
    deleted either way: from now on the log changes and only the next close writes a valid one."""
    path = directory / PRODUCER_SNAPSHOT
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    os.unlink(path)
    try:
        snapshot = json.loads(text)
        if snapshot["version"] not in (0, _VERSION) or snapshot["log_end_offset"] != log_end_offset:
            return None
        state = ProducerStateManager(producer_id_expiration_ms)
        for pid, epoch, last_ts, older, batches, *txn in snapshot["producers"]:
            coordinator_epoch, txn_first = (int(txn[0]), int(txn[1])) if txn else (-1, -1)
            state.restore(
                int(pid),
                int(epoch),
                int(last_ts),
                bool(older),
                [CachedBatch(*map(int, b)) for b in batches],
                coordinator_epoch,
                txn_first,
            )
        state.restore_unreplicated(
            [
                CompletedTxn(int(pid), int(first), int(last), bool(aborted))
                for pid, first, last, aborted in snapshot.get("unreplicated_txns", [])
            ]
        )
        state.last_marker_offset = int(snapshot.get("last_marker_offset", -1))
        return state
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("ignoring malformed producer snapshot file=%s error=%r", path, exc)
        return None
