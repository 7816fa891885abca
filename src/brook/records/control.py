"""Control batches: the transaction markers (COMMIT / ABORT) only the broker writes (Kafka's
EndTransactionMarker and ControlRecordType).

A marker is a v2 batch with attributes 0x30 (transactional 0x10 | control 0x20), the producer id and epoch
of the transaction it ends, base_sequence -1, and one uncompressed record (offset delta 0, timestamp
delta 0, no headers) whose

    key   = version int16 (0) | type int16 (0 ABORT, 1 COMMIT)                4 bytes
    value = version int16 (0) | coordinator_epoch int32                        6 bytes

all big-endian. A reader accepts key and value versions above 0 and reads the fields it knows (Kafka
parses a newer marker version as version 0); a negative version is corruption.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from brook.common.errors import CorruptMessage
from brook.records.batch import BatchHeader
from brook.records.records import Record, build_batch, iter_records

__all__ = [
    "CONTROL_ATTRIBUTES",
    "ControlType",
    "EndTxnMarker",
    "build_end_txn_marker",
    "parse_end_txn_marker",
]

CONTROL_ATTRIBUTES = 0x30  # transactional | control
_KEY = struct.Struct(">hh")
_VALUE = struct.Struct(">hi")


class ControlType(enum.IntEnum):
    ABORT = 0
    COMMIT = 1


@dataclass(frozen=True, slots=True)
class EndTxnMarker:
    control_type: ControlType
    coordinator_epoch: int

    @property
    def is_commit(self) -> bool:
        return self.control_type is ControlType.COMMIT


def build_end_txn_marker(
    producer_id: int, producer_epoch: int, marker: EndTxnMarker, timestamp_ms: int
) -> bytearray:
    """The marker batch at base offset 0 (the append assigns its offset and leader epoch)."""
    record = Record(
        0,
        timestamp_ms,
        _KEY.pack(0, int(marker.control_type)),
        _VALUE.pack(0, marker.coordinator_epoch),
    )
    return build_batch(
        [record],
        base_offset=0,
        attributes=CONTROL_ATTRIBUTES,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=-1,
    )


def parse_end_txn_marker(batch: bytes | bytearray | memoryview, header: BatchHeader) -> EndTxnMarker | None:
    """The marker in the control batch whose bytes start at batch[0]; None for an empty control batch
    (compaction removed it) or a control type that is no transaction marker. Raises CorruptMessage."""
    for record in iter_records(batch, header):
        key, value = record.key or b"", record.value or b""
        if len(key) < _KEY.size:
            raise CorruptMessage(f"control record key of {len(key)} bytes, at least {_KEY.size} expected")
        key_version, type_id = _KEY.unpack_from(key)
        if key_version < 0:
            raise CorruptMessage(f"invalid control record key version {key_version}")
        if type_id not in (ControlType.ABORT, ControlType.COMMIT):
            return None  # LEADER_CHANGE and the KRaft types carry no transaction
        if len(value) < _VALUE.size:
            raise CorruptMessage(f"end transaction marker value of {len(value)} bytes, at least 6 expected")
        value_version, coordinator_epoch = _VALUE.unpack_from(value)
        if value_version < 0:
            raise CorruptMessage(f"invalid end transaction marker version {value_version}")
        return EndTxnMarker(ControlType(type_id), coordinator_epoch)
    return None
