"""The transaction APIs over raw frames against a real brook: Kafka's error codes per state and version."""

from __future__ import annotations

import struct
from typing import Any

from tests.integration.helpers import produce_all, wait_until
from tests.integration.raw_client import RawClient
from tests.integration.txn_raw import describe_transaction_error

NONE, UNKNOWN_TOPIC, INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE = 0, 3, 47, 48
INVALID_PRODUCER_ID_MAPPING, CONCURRENT_TRANSACTIONS, OPERATION_NOT_ATTEMPTED = 49, 51, 55
UNSTABLE_OFFSET_COMMIT, PRODUCER_FENCED, TRANSACTION_ABORTABLE = 88, 90, 120


def _coordinator_ready(raw: RawClient, transactional_id: str) -> bool:
    response = raw.request(10, 3, {"key": transactional_id, "key_type": 1})
    return response.error_code == NONE


def _init(raw: RawClient, transactional_id: str) -> tuple[int, int]:
    body = {
        "transactional_id": transactional_id,
        "transaction_timeout": 60000,
        "producer_id": -1,
        "producer_epoch": -1,
    }
    response = wait_until(lambda: _ok(raw.request(22, 4, body)), timeout_s=30, interval_s=0.1)
    return response.producer_id, response.producer_epoch


def _ok(response: Any) -> Any:
    return response if response.error_code == NONE else None


def _add(raw: RawClient, version: int, txn: str, pid: int, epoch: int, topic: str) -> list[int]:
    body = {
        "v3_and_below_transactional_id": txn,
        "v3_and_below_producer_id": pid,
        "v3_and_below_producer_epoch": epoch,
        "v3_and_below_topics": [{"name": topic, "partitions": [0]}],
    }
    response = raw.request(24, version, body)
    return [
        p.partition_error_code for t in response.results_by_topic_v3_and_below for p in t.results_by_partition
    ]


def _verify(raw: RawClient, version: int, txn: str, pid: int, epoch: int) -> list[int]:
    """AddPartitionsToTxn v4+ (the brokers' form) with verify_only, in a batch beside a transaction that adds
    nothing (an unknown id: INVALID_PRODUCER_ID_MAPPING); raw-txn-topic's partition 0 for `txn`."""
    body = {
        "transactions": [
            {
                "transactional_id": txn,
                "producer_id": pid,
                "producer_epoch": epoch,
                "verify_only": True,
                "topics": [{"name": "raw-txn-topic", "partitions": [0]}],
            },
            {
                "transactional_id": "raw-unknown",
                "producer_id": 1,
                "producer_epoch": 0,
                "verify_only": True,
                "topics": [{"name": "raw-txn-topic", "partitions": [0]}],
            },
        ]
    }
    response = raw.request(24, version, body)
    assert response.error_code == NONE
    by_id = {r.transactional_id: r for r in response.results_by_transaction}
    assert [
        p.partition_error_code for t in by_id["raw-unknown"].topic_results for p in t.results_by_partition
    ] == [INVALID_PRODUCER_ID_MAPPING]
    return [p.partition_error_code for t in by_id[txn].topic_results for p in t.results_by_partition]


def _end(raw: RawClient, txn: str, pid: int, epoch: int, commit: bool) -> int:
    body = {"transactional_id": txn, "producer_id": pid, "producer_epoch": epoch, "committed": commit}
    return raw.request(26, 3, body).error_code


def _fetch(raw: RawClient, group: str, topic: str, stable: bool) -> tuple[int, int]:
    body = {
        "group_id": group,
        "topics": [{"name": topic, "partition_indexes": [0]}],
        "require_stable": stable,
    }
    partition = raw.request(9, 7, body).topics[0].partitions[0]
    return partition.error_code, partition.committed_offset


def test_transaction_apis_answer_kafkas_codes(kafka_broker):
    produce_all(kafka_broker.bootstrap, "raw-txn-topic", [(None, b"x")])
    raw = RawClient(kafka_broker.bootstrap)
    try:
        wait_until(lambda: _coordinator_ready(raw, "raw-txn"), timeout_s=30, interval_s=0.1)
        pid, epoch = _init(raw, "raw-txn")
        assert epoch == 0
        assert _init(raw, "raw-txn") == (pid, 1)
        # no transaction started yet: Kafka's -1 start time on the wire (it used to crash the encoder)
        assert _described_start(raw, "raw-txn") == ("Empty", -1)
        # the old epoch is fenced: PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before
        assert _add(raw, 3, "raw-txn", pid, 0, "raw-txn-topic") == [PRODUCER_FENCED]
        assert _add(raw, 1, "raw-txn", pid, 0, "raw-txn-topic") == [INVALID_PRODUCER_EPOCH]
        assert _add(raw, 3, "raw-txn", pid + 1, 1, "raw-txn-topic") == [INVALID_PRODUCER_ID_MAPPING]
        assert _add(raw, 3, "raw-txn", pid, 1, "no-such-topic") == [UNKNOWN_TOPIC]
        assert _end(raw, "raw-txn", pid, 1, commit=True) == INVALID_TXN_STATE  # nothing to end
        assert _verify(raw, 5, "raw-txn", pid, 1) == [TRANSACTION_ABORTABLE]  # not in the transaction yet
        assert _verify(raw, 4, "raw-txn", pid, 1) == [INVALID_TXN_STATE]
        assert _add(raw, 3, "raw-txn", pid, 1, "raw-txn-topic") == [NONE]
        assert _verify(raw, 5, "raw-txn", pid, 1) == [NONE]
        assert _verify(raw, 5, "raw-txn", pid, 0) == [PRODUCER_FENCED]

        described = raw.request(65, 0, {"transactional_ids": ["raw-txn"]}).transaction_states
        assert (described[0].error_code, described[0].transaction_state, described[0].producer_id) == (
            NONE,
            "Ongoing",
            pid,
        )
        assert [(t.topic, list(t.partitions)) for t in described[0].topics] == [("raw-txn-topic", [0])]
        assert describe_transaction_error(raw, "unknown-txn") == 105  # TRANSACTIONAL_ID_NOT_FOUND
        listed = raw.request(
            66, 1, {"state_filters": ["Ongoing", "Bogus"], "producer_id_filters": [], "duration_filter": -1}
        )
        assert [t.transactional_id for t in listed.transaction_states] == ["raw-txn"]
        assert list(listed.unknown_state_filters) == ["Bogus"]

        # offsets in the transaction: pending (require_stable: UNSTABLE_OFFSET_COMMIT) until the commit
        add_offsets = {
            "transactional_id": "raw-txn",
            "producer_id": pid,
            "producer_epoch": 1,
            "group_id": "raw-group",
        }
        assert raw.request(25, 3, add_offsets).error_code == NONE
        commit_body = {
            "transactional_id": "raw-txn",
            "group_id": "raw-group",
            "producer_id": pid,
            "producer_epoch": 1,
            "generation_id": -1,
            "member_id": "",
            "group_instance_id": None,
            "topics": [
                {
                    "name": "raw-txn-topic",
                    "partitions": [
                        {
                            "partition_index": 0,
                            "committed_offset": 1,
                            "committed_leader_epoch": -1,
                            "committed_metadata": "",
                        }
                    ],
                }
            ],
        }
        response = wait_until(
            lambda: _ok_partition(raw.request(28, 3, commit_body)), timeout_s=30, interval_s=0.1
        )
        assert response.topics[0].partitions[0].error_code == NONE
        assert _fetch(raw, "raw-group", "raw-txn-topic", stable=True) == (UNSTABLE_OFFSET_COMMIT, -1)
        assert _fetch(raw, "raw-group", "raw-txn-topic", stable=False) == (NONE, -1)
        assert _end(raw, "raw-txn", pid, 1, commit=True) == NONE
        wait_until(lambda: _fetch(raw, "raw-group", "raw-txn-topic", stable=True) == (NONE, 1), timeout_s=30)
        # a retried commit succeeds, an abort of it is refused
        wait_until(lambda: _end(raw, "raw-txn", pid, 1, commit=True) == NONE, timeout_s=30, interval_s=0.1)
        assert _end(raw, "raw-txn", pid, 1, commit=False) == INVALID_TXN_STATE
    finally:
        raw.close()


def _ok_partition(response: Any) -> Any:
    return response if response.topics[0].partitions[0].error_code == NONE else None


def _described_start(raw: RawClient, transactional_id: str) -> tuple[str, int]:
    """DescribeTransactions v0 read from the frame (kio cannot read a -1 start time): (state, start time)."""
    correlation_id, data = raw.frame(65, 0, {"transactional_ids": [transactional_id]})
    raw.send_raw(data)
    response = raw.read_frame()
    assert struct.unpack_from(">i", response)[0] == correlation_id
    # header: correlation id, no tags; throttle_time, one entry (compact length 2), error_code
    assert response[9] == 2
    assert struct.unpack_from(">h", response, 10)[0] == NONE
    pos = 12 + response[12]  # compact string: length + 1, then the transactional id
    state_length = response[pos] - 1
    state = response[pos + 1 : pos + 1 + state_length].decode()
    pos += 1 + state_length + 4  # the state, then transaction_timeout
    return state, struct.unpack_from(">q", response, pos)[0]
