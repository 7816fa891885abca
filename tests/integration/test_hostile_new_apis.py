"""Hostile requests to the transaction, SASL, ACL and SCRAM APIs against a real `brook serve`.

Each case sends frames over raw sockets and asserts its outcome exactly: Kafka's error code in a
well-formed response, or the connection closed with a log line naming the reason. After every case the
broker process runs and answers another client (hostile_common.assert_alive), its RSS stays within
100 MB of where it started, and a producer running alongside the whole module gets every record through,
in order.

The broker has a PLAINTEXT listener (User:ANONYMOUS) and a SASL_PLAINTEXT one (PLAIN users admin, alice;
SCRAM), brook's ACL authorizer, and admin as the super user: transactions run as admin, WriteTxnMarkers
is sent by alice, who is no broker.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from brook.common.errors import ErrorCode
from brook.protocol import codec
from brook.protocol.scram import salted_password
from brook.protocol.varint import encode_uvarint
from brook.testing import BrookProcess
from brook.testing.batches import make_batch
from tests.integration.acl_helpers import USERS, authorizer_overrides, sasl_raw
from tests.integration.hostile_common import (
    MB,
    assert_alive,
    closed_by_peer,
    frame,
    rss_bytes,
    survival_fixtures,
)
from tests.integration.raw_client import (
    RawClient,
    acl_creation,
    acl_filter,
    fetch_body,
    log_end_offset,
    read_frame,
)

RSS_BOUND = 100 * MB
TOPIC = "hostile-txn"
TXN = "hostile-txn-id"
SASL = "SASL_PLAINTEXT"
HUGE_UVARINT = b"\xff\xff\xff\xff\x0f"


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[BrookProcess]:
    overrides = authorizer_overrides(
        **{
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            "super.users": "User:admin;User:ANONYMOUS",  # the steady producer and the checks use PLAINTEXT
            "auto.create.topics.enable": "false",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
        }
    )
    with BrookProcess(data_dir=tmp_path_factory.mktemp("hostile-new-apis"), overrides=overrides) as process:
        with RawClient(process.bootstrap) as raw:
            created = raw.request(
                19,
                5,
                {"topics": [{"name": TOPIC, "num_partitions": 2, "replication_factor": 1}], "timeout": 5000},
            )
            assert created.topics[0].error_code == ErrorCode.none
            # a SCRAM user, so that client-final messages are reached (an unknown user fails on client-first)
            bob = {
                "name": "bob",
                "mechanism": 1,  # SCRAM-SHA-256
                "iterations": 4096,
                "salt": b"bob-salt",
                "salted_password": salted_password("SCRAM-SHA-256", "bob-secret", b"bob-salt", 4096),
            }
            altered = raw.request(51, 0, {"deletions": [], "upsertions": [bob]})
            assert [r.error_code for r in altered.results] == [ErrorCode.none]
        yield process


baseline_rss, producer_alongside, broker_survives = survival_fixtures(
    RSS_BOUND, steady_topic="steady-new-apis"
)


# --- helpers ---------------------------------------------------------------------------------------


class LogWatch:
    """Log lines the broker writes from now on."""

    def __init__(self, broker: BrookProcess) -> None:
        self.broker = broker
        self.before = list(broker.output)

    def new_lines(self) -> list[str]:
        lines = list(self.broker.output)
        if self.before and self.before[-1] in lines:
            last = len(lines) - 1 - lines[::-1].index(self.before[-1])
            return lines[last + 1 :]
        return lines

    def wait_for(self, *fragments: str, timeout_s: float = 30.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.new_lines():
                if all(f in line for f in fragments):
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no log line with {fragments}; new lines: {self.new_lines()[-20:]}")


def connect_to(broker: BrookProcess, listener: str = "PLAINTEXT") -> socket.socket:
    host, port = (
        broker.bootstrap if listener == "PLAINTEXT" else broker.listener_bootstrap(listener)
    ).rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def peer_of(sock: socket.socket) -> str:
    """How the broker's connection log lines name this client: peer=('127.0.0.1', <port>)."""
    return f"peer={sock.getsockname()!r}"


def body(api_key: int, version: int, fields: dict[str, Any]) -> bytes:
    return codec.encode_body(codec.build(codec.request_class(api_key, version), fields))


def flexible(api_key: int, version: int) -> bool:
    return codec.is_flexible_request(api_key, version)


def expect_close(broker: BrookProcess, data: bytes, *reason: str, listener: str = "PLAINTEXT") -> str:
    """Send `data` on a new connection: the broker closes it and logs a line naming the reason and peer."""
    watch = LogWatch(broker)
    with connect_to(broker, listener) as sock:
        peer = peer_of(sock)
        sock.sendall(data)
        assert closed_by_peer(sock, timeout_s=30), f"connection stayed open after {reason}"
    return watch.wait_for(peer, *reason)


def admin(broker: BrookProcess) -> RawClient:
    return sasl_raw(broker.listener_bootstrap(SASL), "admin")


def init_transaction(raw: RawClient, transactional_id: str, timeout_ms: int = 60_000) -> Any:
    fields = {"transactional_id": transactional_id, "transaction_timeout": timeout_ms}
    deadline = time.monotonic() + 60
    while True:  # as a client does: FindCoordinator (creates __transaction_state), then InitProducerId
        raw.request(
            10, 4, {"key_type": 1, "coordinator_keys": [transactional_id or "x"]}
        )  # the coordinator loads __transaction_state first (COORDINATOR_LOAD_IN_PROGRESS, ...)
        response = raw.request(22, 4, {**fields, "producer_id": -1, "producer_epoch": -1})
        retriable = (
            ErrorCode.coordinator_load_in_progress,
            ErrorCode.not_coordinator,
            ErrorCode.concurrent_transactions,
        )
        if response.error_code not in retriable or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def describe_transactions(raw: RawClient, ids: list[str]) -> list[tuple[Any, ...]]:
    """DescribeTransactions v0, its response read by hand (kio refuses the -1 start time Kafka sends for a
    transactional id without a transaction): per id (error_code, transactional_id, state, timeout_ms,
    start_time_ms, producer_id, producer_epoch, number of topics)."""
    correlation_id, data = raw.frame(65, 0, {"transactional_ids": ids})
    raw.send_raw(data)
    response = raw.read_frame()
    assert struct.unpack_from(">i", response)[0] == correlation_id
    pos = 4 + 1 + 4  # correlation id, header tagged fields, throttle_time_ms
    count, pos = _uvarint(response, pos)
    states = []
    for _ in range(count - 1):
        (error_code,) = struct.unpack_from(">h", response, pos)
        pos += 2
        strings = []
        for _ in range(2):
            length, pos = _uvarint(response, pos)
            strings.append(response[pos : pos + length - 1].decode())
            pos += length - 1
        timeout_ms, start_ms, producer_id, epoch = struct.unpack_from(">iqqh", response, pos)
        pos += 22
        topics, pos = _uvarint(response, pos)
        assert topics == 1  # no topics in these tests: an empty compact array
        tagged, pos = _uvarint(response, pos)
        assert tagged == 0
        states.append((error_code, *strings, timeout_ms, start_ms, producer_id, epoch, topics - 1))
    return states


# --- transactions: Kafka's error codes ---------------------------------------------------------------


@pytest.mark.parametrize("timeout_ms", [0, -1, 900_001, 0x7FFFFFFF])
def test_absurd_transaction_timeouts_get_invalid_transaction_timeout(broker, timeout_ms) -> None:
    with admin(broker) as raw:
        response = init_transaction(raw, f"absurd-timeout-{timeout_ms}", timeout_ms)
        assert response.error_code == ErrorCode.invalid_transaction_timeout
        assert response.producer_id == -1


def test_an_empty_transactional_id_gets_invalid_request(broker) -> None:
    with admin(broker) as raw:
        assert init_transaction(raw, "").error_code == ErrorCode.invalid_request


def test_add_partitions_to_txn_for_100k_partitions_answers_every_one_and_adds_none(broker) -> None:
    with admin(broker) as raw:
        init = init_transaction(raw, TXN)
        assert init.error_code == ErrorCode.none
        partitions = list(range(100_000))  # the topic has two
        fields = {
            "v3_and_below_transactional_id": TXN,
            "v3_and_below_producer_id": init.producer_id,
            "v3_and_below_producer_epoch": init.producer_epoch,
            "v3_and_below_topics": [{"name": TOPIC, "partitions": partitions}],
        }
        started = time.monotonic()
        response = raw.request(24, 3, fields)
        results = response.results_by_topic_v3_and_below[0].results_by_partition
        assert [r.partition_index for r in results] == partitions
        codes = {r.partition_index: r.partition_error_code for r in results}
        assert codes[0] == codes[1] == ErrorCode.operation_not_attempted
        assert {codes[p] for p in partitions[2:]} == {ErrorCode.unknown_topic_or_partition}
        assert time.monotonic() - started < 30
        (described,) = describe_transactions(raw, [TXN])
        assert described == (
            ErrorCode.none,
            TXN,
            "Empty",
            60_000,
            -1,
            init.producer_id,
            init.producer_epoch,
            0,
        )


def test_add_partitions_to_txn_past_the_element_limit_closes_the_connection(broker) -> None:
    """250,000 partitions: more elements than brook.request.max.elements (200,000) in one request."""
    fields = {
        "v3_and_below_transactional_id": TXN,
        "v3_and_below_producer_id": 0,
        "v3_and_below_producer_epoch": 0,
        "v3_and_below_topics": [{"name": TOPIC, "partitions": list(range(250_000))}],
    }
    data = frame(24, 3, body(24, 3, fields), flexible(24, 3))
    expect_close(broker, data, "more array elements in one message than the limit")


def test_describe_transactions_of_an_id_never_started_and_of_an_empty_one(broker) -> None:
    """transaction_start_time -1 (no transaction yet) once crashed the encoder and closed the connection."""
    with admin(broker) as raw:
        assert init_transaction(raw, "described-empty").error_code == ErrorCode.none
        empty, unknown = describe_transactions(raw, ["described-empty", "never-seen"])
        assert empty[:3] == (ErrorCode.none, "described-empty", "Empty")
        assert empty[4] == -1  # transaction_start_time: no transaction yet
        assert unknown[:2] == (ErrorCode.transactional_id_not_found, "never-seen")
        assert unknown[4] == -1


def test_describe_producers_of_a_partition_with_a_transactional_producer(broker) -> None:
    with admin(broker) as raw:
        init = init_transaction(raw, "described-producer")
        assert init.error_code == ErrorCode.none
        add = {
            "v3_and_below_transactional_id": "described-producer",
            "v3_and_below_producer_id": init.producer_id,
            "v3_and_below_producer_epoch": init.producer_epoch,
            "v3_and_below_topics": [{"name": TOPIC, "partitions": [1]}],
        }
        assert (
            raw.request(24, 3, add)
            .results_by_topic_v3_and_below[0]
            .results_by_partition[0]
            .partition_error_code
            == 0
        )
        batch = make_batch(
            [(b"k", b"v")],
            producer_id=init.producer_id,
            producer_epoch=init.producer_epoch,
            base_sequence=0,
            transactional=True,
        )
        produce = {
            "transactional_id": "described-producer",
            "acks": -1,
            "timeout": 5000,
            "topic_data": [{"name": TOPIC, "partition_data": [{"index": 1, "records": batch}]}],
        }
        assert raw.request(0, 9, produce).responses[0].partition_responses[0].error_code == ErrorCode.none
        response = raw.request(61, 0, {"topics": [{"name": TOPIC, "partition_indexes": [0, 1, 99]}]})
        by_index = {p.partition_index: p for p in response.topics[0].partitions}
        assert by_index[99].error_code == ErrorCode.unknown_topic_or_partition
        (producer,) = [p for p in by_index[1].active_producers if p.producer_id == init.producer_id]
        assert producer.current_txn_start_offset >= 0
        assert (
            raw.request(
                26,
                3,
                {
                    "transactional_id": "described-producer",
                    "producer_id": init.producer_id,
                    "producer_epoch": init.producer_epoch,
                    "committed": False,
                },
            ).error_code
            == 0
        )


def test_list_transactions_with_an_unknown_state_filter_names_it(broker) -> None:
    with admin(broker) as raw:
        response = raw.request(
            66, 0, {"state_filters": ["Ongoing", "NoSuchState"], "producer_id_filters": [-5]}
        )
        assert response.error_code == ErrorCode.none
        assert response.unknown_state_filters == ("NoSuchState",)


def test_end_txn_for_an_unknown_id_and_with_a_stale_epoch(broker) -> None:
    with admin(broker) as raw:
        unknown = {
            "transactional_id": "no-such-txn",
            "producer_id": 12345,
            "producer_epoch": 0,
            "committed": True,
        }
        assert raw.request(26, 3, unknown).error_code == ErrorCode.invalid_producer_id_mapping
        init = init_transaction(raw, "stale-epoch")
        assert init.error_code == ErrorCode.none
        stale = {
            "transactional_id": "stale-epoch",
            "producer_id": init.producer_id,
            "producer_epoch": init.producer_epoch - 1,
            "committed": True,
        }
        assert raw.request(26, 3, stale).error_code == ErrorCode.producer_fenced


def test_write_txn_markers_from_a_client_is_refused_and_writes_nothing(broker) -> None:
    before = log_end_offset(broker.bootstrap, TOPIC, 0)
    raw = sasl_raw(broker.listener_bootstrap(SASL), "alice")
    watch = LogWatch(broker)
    try:
        marker = {
            "producer_id": 0,
            "producer_epoch": 0,
            "transaction_result": True,
            "topics": [{"name": TOPIC, "partition_indexes": [0, 1]}],
            "coordinator_epoch": 0,
        }
        response = raw.request(27, 1, {"markers": [marker]})
        codes = [p.error_code for t in response.markers[0].topics for p in t.partitions]
        assert codes == [ErrorCode.cluster_authorization_failed] * 2
    finally:
        raw.close()
    watch.wait_for("WriteTxnMarkers refused", "User:alice")
    assert log_end_offset(broker.bootstrap, TOPIC, 0) == before


def test_a_control_batch_in_produce_is_refused_and_not_written(broker) -> None:
    before = log_end_offset(broker.bootstrap, TOPIC, 0)
    control = make_batch([(b"\x00\x00\x00\x00", b"\x00\x00\x00\x00\x00\x00")], producer_id=7, control=True)
    with admin(broker) as raw:
        produce = {
            "transactional_id": None,
            "acks": 1,
            "timeout": 5000,
            "topic_data": [{"name": TOPIC, "partition_data": [{"index": 0, "records": control}]}],
        }
        partition = raw.request(0, 9, produce).responses[0].partition_responses[0]
        assert partition.error_code == ErrorCode.invalid_record
    assert log_end_offset(broker.bootstrap, TOPIC, 0) == before


# --- SCRAM credential and ACL APIs: Kafka's error codes ------------------------------------------------


@pytest.mark.parametrize(
    ("iterations", "salt", "salted"),
    [
        (0x7FFFFFFF, b"salt", b"x" * 32),
        (-1, b"salt", b"x" * 32),
        (4096, b"", b"x" * 32),
        (4096, b"salt", b""),
    ],
)
def test_unacceptable_scram_credentials_are_refused(broker, iterations, salt, salted) -> None:
    with admin(broker) as raw:
        upsert = {
            "name": "mallory",
            "mechanism": 1,
            "iterations": iterations,
            "salt": salt,
            "salted_password": salted,
        }
        response = raw.request(51, 0, {"deletions": [], "upsertions": [upsert]})
        assert [r.error_code for r in response.results] == [ErrorCode.unacceptable_credential]
        described = raw.request(50, 0, {"users": [{"name": "mallory"}]}).results[0]
        assert described.error_code == ErrorCode.resource_not_found


def test_describing_a_scram_user_twice_is_a_duplicate_resource(broker) -> None:
    with admin(broker) as raw:
        response = raw.request(50, 0, {"users": [{"name": "dup"}, {"name": "dup"}]})
        assert [r.error_code for r in response.results] == [ErrorCode.duplicate_resource]


@pytest.mark.parametrize("isolation_level", [2, -1])
def test_an_unknown_isolation_level_fails_fetch_and_list_offsets_with_unknown_server_error(
    broker, isolation_level
) -> None:
    """Kafka's IsolationLevel.forId throws for anything but 0 and 1, and the broker answers the whole
    request with UNKNOWN_SERVER_ERROR in every partition (and at the top of a Fetch v7+)."""
    partitions = [{"partition": i, "fetch_offset": 0, "partition_max_bytes": 1024} for i in (0, 1)]
    fetch = {
        **fetch_body(TOPIC, 0, max_wait_ms=0),
        "isolation_level": isolation_level,
        "topics": [
            {"topic": TOPIC, "partitions": partitions},
            {"topic": "no-such-topic", "partitions": partitions},
        ],
    }
    list_offsets = {
        "replica_id": -1,
        "isolation_level": isolation_level,
        "topics": [{"name": TOPIC, "partitions": [{"partition_index": i, "timestamp": -1} for i in (0, 1)]}],
    }
    unknown = ErrorCode.unknown_server_error
    with RawClient(broker.bootstrap) as raw:
        for version in (4, 12):
            fetched = raw.request(1, version, fetch)
            assert getattr(fetched, "error_code", unknown) == unknown  # top-level error_code: v7+
            assert [
                (r.topic, p.partition_index, p.error_code, p.high_watermark, p.records)
                for r in fetched.responses
                for p in r.partitions
            ] == [(t, i, unknown, -1, b"") for t in (TOPIC, "no-such-topic") for i in (0, 1)]
        for version in (2, 7):
            listed = raw.request(2, version, list_offsets)
            assert [
                (p.partition_index, p.error_code, p.offset, p.timestamp) for p in listed.topics[0].partitions
            ] == [
                (0, unknown, -1, -1),
                (1, unknown, -1, -1),
            ]
        # Nothing the broker would read: every partition answers its own error, as Kafka does.
        only_unknown = {**fetch, "topics": [{"topic": "no-such-topic", "partitions": partitions}]}
        fetched = raw.request(1, 12, only_unknown)
        assert fetched.error_code == ErrorCode.none
        assert [p.error_code for p in fetched.responses[0].partitions] == [
            ErrorCode.unknown_topic_or_partition
        ] * 2
        # The known levels still answer (other cases of this module write to the topic: offsets vary).
        ends = [log_end_offset(broker.bootstrap, TOPIC, i) for i in (0, 1)]
        for level in (0, 1):
            listed = raw.request(2, 7, {**list_offsets, "isolation_level": level})
            answers = [(p.partition_index, p.error_code) for p in listed.topics[0].partitions]
            assert answers == [(0, ErrorCode.none), (1, ErrorCode.none)]
            offsets = [p.offset for p in listed.topics[0].partitions]
            assert all(0 <= offset <= end for offset, end in zip(offsets, ends, strict=True)), (offsets, ends)


def test_acl_requests_with_unknown_enum_values_get_invalid_request(broker) -> None:
    with admin(broker) as raw:
        bad = acl_creation(resource_type=99)
        created = raw.request(30, 3, {"creations": [bad]})
        assert [r.error_code for r in created.results] == [ErrorCode.invalid_request]
        no_principal = {**bad, "resource_type": 2, "principal": "nobody"}  # not <type>:<name>
        assert (
            raw.request(30, 3, {"creations": [no_principal]}).results[0].error_code
            == ErrorCode.invalid_request
        )
        described = raw.request(29, 3, acl_filter(resource_type_filter=0))
        assert described.error_code == ErrorCode.invalid_request
        deleted = raw.request(
            31,
            3,
            {"filters": [acl_filter(pattern_type_filter=99)]},
        )
        assert [r.error_code for r in deleted.filter_results] == [ErrorCode.invalid_request]


# --- malformed frames of every new API: the connection closes, logged -----------------------------------

NEW_APIS = [
    (22, 4, {"transactional_id": TXN, "transaction_timeout": 60000, "producer_id": -1, "producer_epoch": -1}),
    (
        24,
        3,
        {
            "v3_and_below_transactional_id": TXN,
            "v3_and_below_producer_id": 1,
            "v3_and_below_producer_epoch": 0,
            "v3_and_below_topics": [{"name": TOPIC, "partitions": [0]}],
        },
    ),
    (25, 3, {"transactional_id": TXN, "producer_id": 1, "producer_epoch": 0, "group_id": "g"}),
    (26, 3, {"transactional_id": TXN, "producer_id": 1, "producer_epoch": 0, "committed": True}),
    (
        27,
        1,
        {
            "markers": [
                {
                    "producer_id": 1,
                    "producer_epoch": 0,
                    "transaction_result": True,
                    "topics": [{"name": TOPIC, "partition_indexes": [0]}],
                    "coordinator_epoch": 0,
                }
            ]
        },
    ),
    (
        28,
        3,
        {
            "transactional_id": TXN,
            "group_id": "g",
            "producer_id": 1,
            "producer_epoch": 0,
            "topics": [{"name": TOPIC, "partitions": [{"partition_index": 0, "committed_offset": 1}]}],
        },
    ),
    (61, 0, {"topics": [{"name": TOPIC, "partition_indexes": [0]}]}),
    (65, 0, {"transactional_ids": [TXN]}),
    (66, 1, {"state_filters": ["Ongoing"], "producer_id_filters": [1], "duration_filter": -1}),
    (17, 1, {"mechanism": "PLAIN"}),
    (36, 2, {"auth_bytes": b"\x00admin\x00admin-secret"}),
    (29, 3, acl_filter()),
    (
        30,
        3,
        {"creations": [acl_creation()]},
    ),
    (
        31,
        3,
        {"filters": [acl_filter()]},
    ),
    (50, 0, {"users": [{"name": "bob"}]}),
    (
        51,
        0,
        {
            "deletions": [],
            "upsertions": [
                {
                    "name": "bob",
                    "mechanism": 1,
                    "iterations": 4096,
                    "salt": b"s",
                    "salted_password": b"p" * 32,
                }
            ],
        },
    ),
]
NEW_IDS = [f"api{k}v{v}" for k, v, _ in NEW_APIS]


@pytest.mark.parametrize(("api_key", "version", "fields"), NEW_APIS, ids=NEW_IDS)
def test_truncated_bodies_close_the_connection(broker, api_key, version, fields) -> None:
    """The frame's size is right for the bytes sent, but the body stops in the middle of a field."""
    whole = body(api_key, version, fields)
    cut = whole[: len(whole) // 2]
    expect_close(
        broker, frame(api_key, version, cut, flexible(api_key, version)), f"api_key={api_key} v{version}"
    )


@pytest.mark.parametrize(("api_key", "version", "fields"), NEW_APIS, ids=NEW_IDS)
def test_a_frame_shorter_than_its_size_is_never_answered(broker, api_key, version, fields) -> None:
    """A size prefix 100 bytes more than what follows: the broker waits for the rest, answers nothing,
    and closes when the client goes; another client is served meanwhile (broker_survives)."""
    data = frame(api_key, version, body(api_key, version, fields), flexible(api_key, version))
    (size,) = struct.unpack_from(">i", data)
    with connect_to(broker) as sock:
        sock.sendall(struct.pack(">i", size + 100) + data[4:])
        assert not closed_by_peer(sock, timeout_s=0.5)  # waiting for the rest, nothing sent back
        assert_alive(broker)


@pytest.mark.parametrize(("api_key", "version", "fields"), NEW_APIS, ids=NEW_IDS)
def test_huge_counts_and_lengths_close_the_connection(broker, api_key, version, fields) -> None:
    """The first top-level array count, string or bytes length in the body made huge (2^32-2 compact,
    2^31-1 or 2^15-1 classic): refused before any allocation, with Kafka's message."""
    whole = body(api_key, version, fields)
    data, kind = _with_first_length_huge(api_key, version, whole)
    reason = "Tried to allocate a collection" if kind == "array" else "bytes remaining"
    expect_close(broker, frame(api_key, version, data, flexible(api_key, version)), reason)


def _with_first_length_huge(api_key: int, version: int, whole: bytes) -> tuple[bytes, str]:
    """The body with its first top-level array count or string/bytes length made huge."""
    layout = codec.layout(codec.request_class(api_key, version))
    is_flexible = layout[1]
    pos = 0
    for field in layout[3]:
        kind = field[0]
        if kind in ("array", "string", "bytes"):
            if is_flexible:
                _, after = _uvarint(whole, pos)
                return whole[:pos] + HUGE_UVARINT + whole[after:], kind
            if kind == "string":
                return whole[:pos] + struct.pack(">h", 0x7FFF) + whole[pos + 2 :], kind
            return whole[:pos] + struct.pack(">i", 0x7FFFFFFF) + whole[pos + 4 :], kind
        pos = _skip(whole, pos, field, is_flexible)
    raise AssertionError(f"api {api_key} v{version} has no top-level array, string or bytes")


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _skip(data: bytes, pos: int, field: tuple[Any, ...], is_flexible: bool) -> int:
    kind = field[0]
    if kind == "fixed":
        return pos + field[1]
    if kind in ("string", "bytes"):
        if is_flexible:
            length, pos = _uvarint(data, pos)
            return pos + max(length - 1, 0)
        if kind == "string":
            (length,) = struct.unpack_from(">h", data, pos)
            return pos + 2 + max(length, 0)
        (length,) = struct.unpack_from(">i", data, pos)
        return pos + 4 + max(length, 0)
    raise AssertionError(f"cannot skip {kind}")


def test_invalid_utf8_in_a_transactional_id_closes_the_connection(broker) -> None:
    text = b"\xff\xfe\xfd"
    data = frame(65, 0, encode_uvarint(2) + encode_uvarint(len(text) + 1) + text + b"\x00", flexible(65, 0))
    expect_close(broker, data, "api_key=65 v0")


def test_a_null_transactional_id_in_describe_transactions_closes_the_connection(broker) -> None:
    data = frame(65, 0, encode_uvarint(2) + b"\x00" + b"\x00", flexible(65, 0))  # one id, null: not nullable
    expect_close(broker, data, "serialized as null")


def test_a_null_mechanism_in_sasl_handshake_closes_the_connection(broker) -> None:
    data = frame(17, 1, struct.pack(">h", -1), flexible=False)
    expect_close(broker, data, "serialized as null", listener=SASL)


@pytest.mark.parametrize(("api_key", "version"), [(22, 99), (24, 6), (26, 9), (36, 3), (65, 1), (61, 1)])
def test_unsupported_versions_close_the_connection(broker, api_key, version) -> None:
    data = frame(api_key, version, b"\x00" * 16, flexible=False)
    expect_close(broker, data, f"api_key {api_key} version {version} is not supported")


# --- SASL out of order, garbage SCRAM, oversized frames before authentication ------------------------------


def _sasl_frame(api_key: int, version: int, fields: dict[str, Any], correlation_id: int = 7) -> bytes:
    return frame(api_key, version, body(api_key, version, fields), flexible(api_key, version), correlation_id)


def test_a_request_before_authentication_closes_the_connection(broker) -> None:
    data = _sasl_frame(3, 12, {"topics": None, "allow_auto_topic_creation": False})
    expect_close(broker, data, "unexpected request api_key=3 during SASL authentication", listener=SASL)


def test_a_second_handshake_instead_of_authenticate_closes_the_connection(broker) -> None:
    handshake = _sasl_frame(17, 1, {"mechanism": "PLAIN"})
    expect_close(broker, handshake + handshake, "unexpected request api_key=17", listener=SASL)


def test_authenticate_without_a_handshake_closes_the_connection(broker) -> None:
    """As Kafka's SaslServerAuthenticator: anything but ApiVersions and SaslHandshake first is an illegal
    SASL state, and the connection closes without an answer."""
    data = _sasl_frame(36, 2, {"auth_bytes": b"\x00admin\x00admin-secret"})
    expect_close(broker, data, "unexpected request api_key=36 during SASL authentication", listener=SASL)


def test_authenticate_on_a_plaintext_listener_gets_illegal_sasl_state(broker) -> None:
    with RawClient(broker.bootstrap) as raw:
        response = raw.request(36, 2, {"auth_bytes": b"\x00admin\x00admin-secret"})
        assert response.error_code == ErrorCode.illegal_sasl_state
        assert (
            raw.request(18, 3, {"client_software_name": "t", "client_software_version": "1"}).error_code == 0
        )


def test_an_unknown_mechanism_gets_unsupported_sasl_mechanism_then_a_close(broker) -> None:
    watch = LogWatch(broker)
    with RawClient(broker.listener_bootstrap(SASL)) as raw:
        response = raw.request(17, 1, {"mechanism": "GSSAPI"})
        assert response.error_code == ErrorCode.unsupported_sasl_mechanism
        assert set(response.mechanisms) == {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}
        assert raw.is_closed_by_peer(timeout_s=30)
    watch.wait_for("SASL mechanism GSSAPI is not enabled")


GARBAGE_CLIENT_FIRST = [
    b"",
    b"\xff\xfe\x00garbage",
    b"n,,",
    b"n,,n=,r=",
    b"n,,n=bob",
    b"p=tls-server-end-point,,n=bob,r=abc",
    b"n,a=alice,n=bob,r=abc",
    b"n,,n=" + b"b" * 60_000 + b",r=abc",  # well formed, but no such user: refused here, as Kafka does
]
# Odd, but Kafka's ScramMessages accept them too: a server-first comes back, then the proof fails.
ODD_CLIENT_FIRST = [
    b"y,,n=bob,r=abc",
    b"n,,n=bob,r=abc,m=ext",
]


@pytest.mark.parametrize("token", ODD_CLIENT_FIRST, ids=[f"odd{i}" for i in range(len(ODD_CLIENT_FIRST))])
def test_odd_scram_client_first_then_a_bad_proof_fails_and_closes(broker, token) -> None:
    _scram_refused(broker, [token, b"c=biws,r={nonce},p=AAAA"])


@pytest.mark.parametrize(
    "token", GARBAGE_CLIENT_FIRST, ids=[f"first{i}" for i in range(len(GARBAGE_CLIENT_FIRST))]
)
def test_garbage_scram_client_first_fails_authentication_and_closes(broker, token) -> None:
    _scram_refused(broker, [token])


GARBAGE_CLIENT_FINAL = [
    b"",
    b"\xff\xfe",
    b"c=biws",
    b"c=biws,r=wrongnonce,p=AAAA",
    b"c=Zm9v,r={nonce},p=AAAA",
    b"c=biws,r={nonce}",
    b"c=biws,r={nonce},p=!!!notbase64",
    b"c=biws,r={nonce},p=" + b"A" * 40_000,
]


@pytest.mark.parametrize(
    "token", GARBAGE_CLIENT_FINAL, ids=[f"final{i}" for i in range(len(GARBAGE_CLIENT_FINAL))]
)
def test_garbage_scram_client_final_fails_authentication_and_closes(broker, token) -> None:
    _scram_refused(broker, [b"n,,n=bob,r=clientnonce", token])


def _scram_refused(broker: BrookProcess, tokens: list[bytes]) -> None:
    watch = LogWatch(broker)
    with RawClient(broker.listener_bootstrap(SASL)) as raw:
        assert raw.request(17, 1, {"mechanism": "SCRAM-SHA-256"}).error_code == ErrorCode.none
        for i, token in enumerate(tokens):
            if i == len(tokens) - 1:
                break
            first = raw.request(36, 2, {"auth_bytes": token})
            assert first.error_code == ErrorCode.none  # server-first
            nonce = dict(a.split("=", 1) for a in first.auth_bytes.decode().split(","))["r"]
            tokens[i + 1] = tokens[i + 1].replace(b"{nonce}", nonce.encode())
        response = raw.request(36, 2, {"auth_bytes": tokens[-1]})
        assert response.error_code == ErrorCode.sasl_authentication_failed
        assert raw.is_closed_by_peer(timeout_s=30)
    watch.wait_for("authentication failed", "mechanism=SCRAM-SHA-256")


def test_a_100mb_frame_before_authentication_closes_the_connection_unread(broker) -> None:
    """sasl.server.max.receive.size (524288): an unauthenticated client cannot make the broker hold 100 MB."""
    sock = connect_to(broker, SASL)
    watch = LogWatch(broker)
    try:
        peer = peer_of(sock)
        sock.sendall(struct.pack(">i", 100 * 1024 * 1024) + struct.pack(">hhih", 36, 2, 1, 1) + b"x")
        assert closed_by_peer(sock, timeout_s=30)
    finally:
        sock.close()
    watch.wait_for(peer, "frame size 104857600 outside [8, 524288]")


def test_the_sasl_limit_lifts_once_authenticated(broker) -> None:
    """After authentication the broker's socket.request.max.bytes applies: a 1 MB request is read."""
    with admin(broker) as raw:
        names = [f"t{i:07d}" + "x" * 100 for i in range(9000)]  # ~1 MB of Metadata topic names
        response = raw.request(
            3,
            12,
            {"topics": [{"name": n, "topic_id": None} for n in names], "allow_auto_topic_creation": False},
        )
        assert len(response.topics) == len(names)
        assert {t.error_code for t in response.topics} == {ErrorCode.unknown_topic_or_partition}


def test_a_sasl_v0_raw_token_past_the_limit_closes_the_connection(broker) -> None:
    """SaslHandshake v0: the next frame is a bare token, bounded the same way."""
    sock = connect_to(broker, SASL)
    watch = LogWatch(broker)
    try:
        peer = peer_of(sock)
        sock.sendall(_sasl_frame(17, 0, {"mechanism": "PLAIN"}))
        sock.settimeout(10)
        read_frame(sock)
        sock.sendall(struct.pack(">i", 600_000) + b"\x00admin\x00")
        assert closed_by_peer(sock, timeout_s=30)
    finally:
        sock.close()
    watch.wait_for(peer, "frame size 600000 outside [8, 524288]")


def test_plain_with_a_wrong_password_fails_and_logs_the_user_not_the_password(broker) -> None:
    watch = LogWatch(broker)
    with RawClient(broker.listener_bootstrap(SASL)) as raw:
        assert raw.request(17, 1, {"mechanism": "PLAIN"}).error_code == ErrorCode.none
        response = raw.request(36, 2, {"auth_bytes": b"\x00admin\x00not-" + USERS["admin"].encode()})
        assert response.error_code == ErrorCode.sasl_authentication_failed
        assert raw.is_closed_by_peer(timeout_s=30)
    line = watch.wait_for("authentication failed", "user=admin")
    assert USERS["admin"] not in line


# --- memory: a client that pipelines big requests and never reads -----------------------------------------


def test_64_pipelined_100k_partition_requests_never_read_hold_one_at_a_time(broker, baseline_rss) -> None:
    """64 AddPartitionsToTxn of 100,000 partitions each (25 MB), sent at once by a client that never reads:
    the broker handles one at a time per connection (each holds ~10 MB of entries and response while
    handled), so its memory stays bounded and other clients are answered meanwhile. Handled all at once
    they took 900 MB and stalled the broker for 28 s."""
    fields = {
        "v3_and_below_transactional_id": "pipelined",
        "v3_and_below_producer_id": 0,
        "v3_and_below_producer_epoch": 0,
        "v3_and_below_topics": [{"name": TOPIC, "partitions": list(range(100_000))}],
    }
    one = frame(24, 3, body(24, 3, fields), flexible(24, 3))
    sock = connect_to(broker)
    sock.settimeout(None)

    def send() -> None:
        with contextlib.suppress(OSError):
            sock.sendall(one * 64)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        peak = rss_bytes(broker)
        worst = 0.0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            started = time.monotonic()
            assert_alive(broker)
            worst = max(worst, time.monotonic() - started)
            peak = max(peak, rss_bytes(broker))
            time.sleep(0.1)
    finally:
        sock.close()
        sender.join(30)
    assert peak <= baseline_rss + RSS_BOUND, f"RSS peaked {(peak - baseline_rss) / MB:.0f} MB above its start"
    assert worst < 10.0, f"another client waited {worst:.1f} s"
