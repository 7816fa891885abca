"""`__transaction_state` records in Kafka's layout (TransactionLogKey v0, TransactionLogValue v0), so Kafka's
tools read brook's topic and the other way round. Big-endian; a string is int16 length + UTF-8.

    key   v0: version int16 (0), transactional_id string
    value v0: version int16 (0), producer_id int64, producer_epoch int16, transaction_timeout_ms int32,
              transaction_status int8 (TxnState), transaction_partitions [topic string,
              partition_ids [int32]] (int32 counts; -1 = null), last_update_timestamp_ms int64,
              start_timestamp_ms int64
    value v1 is v0 made flexible (compact strings/arrays, tagged fields); brook reads it, writes v0.

A null value is a tombstone: the transactional id expired. The last producer id/epoch are not in the record
(as in Kafka): a loaded transaction forgets them.
"""

from __future__ import annotations

import struct
from collections import defaultdict

from brook.common.errors import CorruptMessage
from brook.common.types import TopicPartition
from brook.coordinator.transaction.state import NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TxnState, TxnTransit
from brook.protocol.varint import read_uvarint

__all__ = ["TRANSACTION_STATE_TOPIC", "decode_key", "decode_value", "encode_key", "encode_value"]

TRANSACTION_STATE_TOPIC = "__transaction_state"

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_VALUE_HEAD = struct.Struct(">hqhib")  # version, producer_id, producer_epoch, timeout_ms, status
_TIMES = struct.Struct(">qq")


def _string(value: str) -> bytes:
    data = value.encode()
    return _I16.pack(len(data)) + data


def encode_key(transactional_id: str) -> bytes:
    return _I16.pack(0) + _string(transactional_id)


def decode_key(key: bytes) -> str | None:
    """The transactional id, or None for a key of an unknown version (skipped, as Kafka does)."""
    try:
        (version,) = _I16.unpack_from(key, 0)
        if version != 0:
            return None
        (size,) = _I16.unpack_from(key, 2)
        if size < 0 or 4 + size > len(key):
            raise CorruptMessage("transaction log key: bad string length")
        return key[4 : 4 + size].decode()
    except (struct.error, UnicodeDecodeError) as exc:
        raise CorruptMessage(f"transaction log key: {exc}") from exc


def encode_value(transit: TxnTransit) -> bytes:
    by_topic: dict[str, list[int]] = defaultdict(list)
    for tp in transit.partitions:
        by_topic[tp.topic].append(tp.partition)
    parts = [
        _VALUE_HEAD.pack(
            0, transit.producer_id, transit.producer_epoch, transit.timeout_ms, int(transit.state)
        ),
        _I32.pack(len(by_topic)),
    ]
    for topic in sorted(by_topic):
        ids = sorted(by_topic[topic])
        parts.append(_string(topic) + _I32.pack(len(ids)) + b"".join(_I32.pack(i) for i in ids))
    parts.append(_TIMES.pack(transit.last_update_ms, transit.start_ms))
    return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes, pos: int, flexible: bool) -> None:
        self.data, self.pos, self.flexible = data, pos, flexible

    def fixed(self, fmt: struct.Struct) -> tuple[int, ...]:
        values = fmt.unpack_from(self.data, self.pos)
        self.pos += fmt.size
        return values

    def length(self) -> int:
        if self.flexible:
            size, self.pos = read_uvarint(self.data, self.pos)
            return size - 1
        return self.fixed(_I32)[0]

    def string(self) -> str:
        if self.flexible:
            size, self.pos = read_uvarint(self.data, self.pos)
            size -= 1
        else:
            (size,) = self.fixed(_I16)
        if size < 0 or self.pos + size > len(self.data):
            raise CorruptMessage("transaction log value: bad string length")
        value = self.data[self.pos : self.pos + size].decode()
        self.pos += size
        return value

    def skip_tags(self) -> None:
        if not self.flexible:
            return
        count, self.pos = read_uvarint(self.data, self.pos)
        for _ in range(count):
            _tag, self.pos = read_uvarint(self.data, self.pos)
            size, self.pos = read_uvarint(self.data, self.pos)
            self.pos += size


def decode_value(value: bytes) -> TxnTransit:
    try:
        version, producer_id, epoch, timeout_ms, status = _VALUE_HEAD.unpack_from(value, 0)
        if version not in (0, 1):
            raise CorruptMessage(f"transaction log value: unknown version {version}")
        reader = _Reader(value, _VALUE_HEAD.size, flexible=version >= 1)
        partitions: set[TopicPartition] = set()
        topics = reader.length()
        if topics > len(value):
            raise CorruptMessage("transaction log value: bad array length")
        for _ in range(max(topics, 0)):
            topic = reader.string()
            count = reader.length()
            if count > len(value):
                raise CorruptMessage("transaction log value: bad array length")
            for _ in range(max(count, 0)):
                partitions.add(TopicPartition(topic, reader.fixed(_I32)[0]))
            reader.skip_tags()
        last_update_ms, start_ms = reader.fixed(_TIMES)
        return TxnTransit(
            producer_id=producer_id,
            last_producer_id=NO_PRODUCER_ID,
            producer_epoch=epoch,
            last_producer_epoch=NO_PRODUCER_EPOCH,
            timeout_ms=timeout_ms,
            state=TxnState(status),
            partitions=frozenset(partitions),
            start_ms=start_ms,
            last_update_ms=last_update_ms,
        )
    except (struct.error, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise CorruptMessage(f"transaction log value: {exc}") from exc
