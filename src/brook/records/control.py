"""Control batches: the transaction markers (COMMIT / ABORT) only the broker writes (Kafka's
EndTransactionMarker and ControlRecordType).

A marker is a v2 batch with attributes 0x30 (transactional 0x10 | control 0x20), the producer id and epoch
of the transaction it ends, base_sequence -1, and one uncompressed record (offset delta 0, timestamp
delta 0, no headers) whose

    key   = version int16 (0) | type int16 (0 ABORT, 1 COMMIT)                4 bytes
    value = version int16 (0) | coordinator_epoch int32                        6 bytes

all big-endian. The whole marker batch is 78 bytes: the 61-byte header and one 17-byte record
(length varint 16, attributes 0, timestamp delta 0, offset delta 0, key length varint 4, key, value
length varint 6, value, header count 0), written here with struct (the produce path's cost per
transaction), byte for byte what `records.build_batch` gives. A reader accepts key and value versions above 0 and reads the fields it knows (Kafka
parses a newer marker version as version 0); a negative version is corruption.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from crc32c import crc32c

from brook.common.errors import CorruptMessage
from brook.records.batch import BATCH_HEADER_SIZE, LOG_OVERHEAD, BatchHeader
from brook.records.records import iter_records

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
_HEADER = struct.Struct(">qiibIhiqqqhii")  # records/batch.py's layout
# record: length 16 (zigzag 0x20), attributes, timestamp delta, offset delta, key length 4 (0x08)
_RECORD_HEAD = b"\x20\x00\x00\x00\x08"
_RECORD_SIZE = 17
_CRC_START = 21


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
    buf = bytearray(BATCH_HEADER_SIZE)
    _HEADER.pack_into(
        buf, 0, 0, BATCH_HEADER_SIZE - LOG_OVERHEAD + _RECORD_SIZE, -1, 2, 0, CONTROL_ATTRIBUTES, 0,
        timestamp_ms, timestamp_ms, producer_id, producer_epoch, -1, 1,
    )  # fmt: skip
    buf += _RECORD_HEAD + _KEY.pack(0, int(marker.control_type)) + b"\x0c"
    buf += _VALUE.pack(0, marker.coordinator_epoch) + b"\x00"
    struct.pack_into(">I", buf, 17, crc32c(memoryview(buf)[_CRC_START:]))
    return buf


_TYPES = {int(t): t for t in ControlType}


def parse_end_txn_marker(batch: bytes | bytearray | memoryview, header: BatchHeader) -> EndTxnMarker | None:
    """The marker in the control batch whose bytes start at batch[0]; None for an empty control batch
    (compaction removed it) or a control type that is no transaction marker. Raises CorruptMessage.
    A marker in the exact layout written here is read with struct; any other goes through the records
    decoder (a compressed one, version 1+, extra bytes)."""
    if (
        header.size == BATCH_HEADER_SIZE + _RECORD_SIZE
        and header.records_count == 1
        and header.compression == 0
        and len(batch) >= header.size
        and bytes(batch[BATCH_HEADER_SIZE : BATCH_HEADER_SIZE + 5]) == _RECORD_HEAD
        and batch[BATCH_HEADER_SIZE + 9] == 0x0C
    ):
        key_version, type_id = _KEY.unpack_from(batch, BATCH_HEADER_SIZE + 5)
        value_version, coordinator_epoch = _VALUE.unpack_from(batch, BATCH_HEADER_SIZE + 10)
        if key_version == 0 and value_version == 0 and type_id in _TYPES:
            return EndTxnMarker(_TYPES[type_id], coordinator_epoch)
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
