"""Requests of `brook transactions` over brook's own socket (raw_request.py: TLS and SASL from -X /
--command-config; confluent-kafka's AdminClient has no transaction APIs). DescribeTransactions is decoded here by hand: its start time is -1 for an id with no open transaction,
a negative timestamp the schema library refuses (Kafka's clients read it as a plain int64).

DescribeTransactions v0 response body (flexible): throttle_time_ms int32, transaction_states compact array
of [error_code int16, transactional_id compact string, transaction_state compact string,
transaction_timeout_ms int32, transaction_start_time_ms int64, producer_id int64, producer_epoch int16,
topics compact array of [topic compact string, partitions compact array of int32, tags], tags], tags.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from brook.cli._common import CliError
from brook.cli.raw_request import call as request
from brook.cli.raw_request import exchange_frame
from brook.protocol.varint import read_uvarint

__all__ = ["TxnState", "describe_transactions", "request"]

_DESCRIBE_TRANSACTIONS = 65


@dataclass(frozen=True)
class TxnState:
    error_code: int
    transactional_id: str
    state: str
    timeout_ms: int
    start_ms: int
    producer_id: int
    producer_epoch: int
    partitions: list[tuple[str, int]]


def _round_trip(address: tuple[str, int], api_key: int, version: int, body: dict[str, Any]) -> bytes:
    try:
        return exchange_frame(address, api_key, version, body)
    except OSError as exc:
        raise CliError(f"cannot reach the broker at {address[0]}:{address[1]}: {exc}") from exc


class _Reader:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data, self.pos = data, pos

    def fixed(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def count(self) -> int:
        size, self.pos = read_uvarint(self.data, self.pos)
        return size - 1

    def string(self) -> str:
        size = self.count()
        value = self.data[self.pos : self.pos + size].decode()
        self.pos += size
        return value

    def tags(self) -> None:
        count, self.pos = read_uvarint(self.data, self.pos)
        for _ in range(count):
            _tag, self.pos = read_uvarint(self.data, self.pos)
            size, self.pos = read_uvarint(self.data, self.pos)
            self.pos += size


def describe_transactions(address: tuple[str, int], transactional_ids: list[str]) -> list[TxnState]:
    frame = _round_trip(address, _DESCRIBE_TRANSACTIONS, 0, {"transactional_ids": transactional_ids})
    try:
        r = _Reader(frame, 5)  # correlation id, empty header tags
        r.fixed(">i")  # throttle time
        states = []
        for _ in range(max(r.count(), 0)):
            error_code = r.fixed(">h")
            transactional_id = r.string()
            state = r.string()
            timeout_ms = r.fixed(">i")
            start_ms = r.fixed(">q")
            producer_id = r.fixed(">q")
            producer_epoch = r.fixed(">h")
            partitions: list[tuple[str, int]] = []
            for _ in range(max(r.count(), 0)):
                topic = r.string()
                partitions.extend((topic, r.fixed(">i")) for _ in range(max(r.count(), 0)))
                r.tags()
            r.tags()
            states.append(
                TxnState(
                    error_code,
                    transactional_id,
                    state,
                    timeout_ms,
                    start_ms,
                    producer_id,
                    producer_epoch,
                    partitions,
                )
            )
        return states
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise CliError(f"unreadable DescribeTransactions answer: {exc}") from exc
