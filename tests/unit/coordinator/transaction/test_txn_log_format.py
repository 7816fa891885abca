"""`__transaction_state` key/value layouts (Kafka's TransactionLogKey v0 / TransactionLogValue v0 and v1)."""

import struct

import pytest

from brook.common.errors import CorruptMessage
from brook.common.types import TopicPartition
from brook.coordinator.transaction.log_format import decode_key, decode_value, encode_key, encode_value
from brook.coordinator.transaction.state import TxnState, TxnTransit, valid_transition


def _transit() -> TxnTransit:
    return TxnTransit(
        producer_id=4242,
        last_producer_id=-1,
        producer_epoch=3,
        last_producer_epoch=-1,
        timeout_ms=60_000,
        state=TxnState.ONGOING,
        partitions=frozenset({TopicPartition("b", 1), TopicPartition("a", 0), TopicPartition("a", 2)}),
        start_ms=1_000,
        last_update_ms=2_000,
    )


def test_key_bytes() -> None:
    assert encode_key("tx") == b"\x00\x00\x00\x02tx"
    assert decode_key(encode_key("tx")) == "tx"
    assert decode_key(b"\x00\x01\x00\x00") is None  # another version: skipped
    with pytest.raises(CorruptMessage):
        decode_key(b"\x00\x00\x00\x09ab")


def test_value_v0_bytes_and_round_trip() -> None:
    value = encode_value(_transit())
    expected = (
        struct.pack(">hqhib", 0, 4242, 3, 60_000, 1)
        + struct.pack(">i", 2)
        + struct.pack(">h", 1) + b"a" + struct.pack(">iii", 2, 0, 2)
        + struct.pack(">h", 1) + b"b" + struct.pack(">ii", 1, 1)
        + struct.pack(">qq", 2_000, 1_000)
    )  # fmt: skip
    assert value == expected
    assert decode_value(value) == _transit()


def test_value_v1_flexible_is_read() -> None:
    value = (
        struct.pack(">hqhib", 1, 7, 0, 5_000, 4)
        + bytes([2])  # compact array of 1 topic
        + bytes([2]) + b"t" + bytes([2]) + struct.pack(">i", 9) + bytes([0])  # topic t, [9], no tags
        + struct.pack(">qq", 20, 10)
        + bytes([0])
    )  # fmt: skip
    transit = decode_value(value)
    assert (transit.producer_id, transit.state, transit.partitions) == (
        7,
        TxnState.COMPLETE_COMMIT,
        frozenset({TopicPartition("t", 9)}),
    )
    assert (transit.last_update_ms, transit.start_ms) == (20, 10)


@pytest.mark.parametrize("cut", [3, 20, 25, 40])
def test_truncated_value_is_corrupt(cut: int) -> None:
    with pytest.raises(CorruptMessage):
        decode_value(encode_value(_transit())[:cut])


def test_transitions_follow_kafka() -> None:
    assert valid_transition(TxnState.EMPTY, TxnState.ONGOING)
    assert valid_transition(TxnState.COMPLETE_ABORT, TxnState.ONGOING)
    assert valid_transition(TxnState.PREPARE_EPOCH_FENCE, TxnState.PREPARE_ABORT)
    assert not valid_transition(TxnState.PREPARE_COMMIT, TxnState.ONGOING)
    assert not valid_transition(TxnState.EMPTY, TxnState.PREPARE_COMMIT)
    assert not valid_transition(TxnState.ONGOING, TxnState.DEAD)
