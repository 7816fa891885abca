"""Authorization of the transaction APIs against one real broker with brook's authorizer, as Kafka's KafkaApis.

The brokers talk to each other (and a coordinator to itself, for WriteTxnMarkers) on the inter-broker listener,
here SASL_PLAINTEXT as the super user admin: a transaction only completes when that principal may CLUSTER_ACTION
(User:ANONYMOUS on the PLAINTEXT listener is no super user).
alice: WRITE on transactional id `alice-txn`, WRITE on topic `txn-out`, READ on topic `txn-in` and group
`txn-group`. bob: no ACLs.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AclOperation, AdminClient, ResourceType

from brook.testing.broker_process import BrookProcess, report_on_failure
from brook.testing.security import plain_jaas
from tests.integration.acl_helpers import (
    USERS,
    acl,
    authorizer_overrides,
    client_conf,
    create_acls,
    create_topics,
    sasl_raw,
)
from tests.integration.helpers import wait_until
from tests.integration.raw_client import RawClient
from tests.integration.txn_raw import describe_transaction_error

pytestmark = pytest.mark.integration

NONE, TOPIC_DENIED, GROUP_DENIED, CLUSTER_DENIED = 0, 29, 30, 31
TXN_ID_DENIED, OPERATION_NOT_ATTEMPTED = 53, 55
ALICE = "User:alice"


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    overrides = authorizer_overrides(
        **{
            "security.inter.broker.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "sasl.jaas.config": plain_jaas(USERS, "admin", USERS["admin"]),
        }
    )
    with BrookProcess(tmp_path_factory.mktemp("acls-txn"), overrides=overrides) as process:
        sasl = process.listener_bootstrap("SASL_PLAINTEXT")
        admin = AdminClient(client_conf(sasl, "admin"))
        create_topics(admin, ("txn-in", "txn-out"))
        create_acls(
            admin,
            [
                acl(ResourceType.TRANSACTIONAL_ID, "alice-txn", ALICE, AclOperation.WRITE),
                acl(ResourceType.TOPIC, "txn-out", ALICE, AclOperation.WRITE),
                acl(ResourceType.TOPIC, "txn-in", ALICE, AclOperation.READ),
                acl(ResourceType.GROUP, "txn-group", ALICE, AclOperation.READ),
            ],
        )
        yield process


@pytest.fixture(autouse=True)
def _report(broker):
    report_on_failure(broker)


@pytest.fixture
def sasl(broker):
    return broker.listener_bootstrap("SASL_PLAINTEXT")


@pytest.fixture
def bob(sasl):
    with sasl_raw(sasl, "bob") as raw:
        yield raw


def _partition_codes(topics: Any, partitions_field: str, code_field: str = "error_code") -> list[int]:
    return [getattr(p, code_field) for t in topics for p in getattr(t, partitions_field)]


def _add_partitions(raw: RawClient, txn: str, topics: list[str]) -> dict[str, int]:
    body = {
        "v3_and_below_transactional_id": txn,
        "v3_and_below_producer_id": 1,
        "v3_and_below_producer_epoch": 0,
        "v3_and_below_topics": [{"name": t, "partitions": [0]} for t in topics],
    }
    response = raw.request(24, 3, body)
    return {
        t.name: p.partition_error_code
        for t in response.results_by_topic_v3_and_below
        for p in t.results_by_partition
    }


def _txn_offset_commit(raw: RawClient, txn: str, group: str, topics: list[str]) -> dict[str, int]:
    body = {
        "transactional_id": txn,
        "group_id": group,
        "producer_id": 1,
        "producer_epoch": 0,
        "generation_id": -1,
        "member_id": "",
        "group_instance_id": None,
        "topics": [
            {
                "name": t,
                "partitions": [
                    {
                        "partition_index": 0,
                        "committed_offset": 1,
                        "committed_leader_epoch": -1,
                        "committed_metadata": "",
                    }
                ],
            }
            for t in topics
        ],
    }
    return {t.name: t.partitions[0].error_code for t in raw.request(28, 3, body).topics}


def test_a_user_without_acls_is_refused_by_every_transaction_api(bob):
    assert _add_partitions(bob, "alice-txn", ["txn-out"]) == {"txn-out": TXN_ID_DENIED}
    add_offsets = {"transactional_id": "alice-txn", "producer_id": 1, "producer_epoch": 0, "group_id": "g"}
    assert bob.request(25, 3, add_offsets).error_code == TXN_ID_DENIED
    end = {"transactional_id": "alice-txn", "producer_id": 1, "producer_epoch": 0, "committed": True}
    assert bob.request(26, 3, end).error_code == TXN_ID_DENIED
    markers = {
        "markers": [
            {
                "producer_id": 1,
                "producer_epoch": 0,
                "transaction_result": True,
                "topics": [{"name": "txn-out", "partition_indexes": [0]}],
                "coordinator_epoch": 0,
            }
        ]
    }
    written = bob.request(27, 1, markers).markers
    assert _partition_codes(written[0].topics, "partitions") == [CLUSTER_DENIED]
    assert _txn_offset_commit(bob, "alice-txn", "txn-group", ["txn-in"]) == {"txn-in": TXN_ID_DENIED}
    producers = bob.request(61, 0, {"topics": [{"name": "txn-out", "partition_indexes": [0]}]})
    assert _partition_codes(producers.topics, "partitions") == [TOPIC_DENIED]
    assert describe_transaction_error(bob, "alice-txn") == TXN_ID_DENIED


def test_a_partly_authorized_user_gets_kafkas_per_resource_errors(sasl):
    with sasl_raw(sasl, "alice") as alice:
        # WRITE on the id but not on txn-in: nothing is added, the writable partition is not attempted
        assert _add_partitions(alice, "alice-txn", ["txn-out", "txn-in"]) == {
            "txn-out": OPERATION_NOT_ATTEMPTED,
            "txn-in": TOPIC_DENIED,
        }
        add_offsets = {
            "transactional_id": "alice-txn",
            "producer_id": 1,
            "producer_epoch": 0,
            "group_id": "other-group",
        }
        assert alice.request(25, 3, add_offsets).error_code == GROUP_DENIED
        assert _txn_offset_commit(alice, "alice-txn", "other-group", ["txn-in"]) == {"txn-in": GROUP_DENIED}
        # READ on txn-in, not on txn-out: that topic's partitions alone are refused
        codes = _txn_offset_commit(alice, "alice-txn", "txn-group", ["txn-out", "txn-in"])
        assert codes["txn-out"] == TOPIC_DENIED
        assert codes["txn-in"] != TOPIC_DENIED


def test_an_authorized_user_completes_a_transaction_with_offsets(sasl):
    consumer = Consumer(client_conf(sasl, "alice", **{"group.id": "txn-group", "enable.auto.commit": False}))
    producer = Producer(client_conf(sasl, "alice", **{"transactional.id": "alice-txn"}))
    try:
        producer.init_transactions(30)
        producer.begin_transaction()
        for i in range(5):
            producer.produce("txn-out", value=b"v%d" % i)
        producer.send_offsets_to_transaction(
            [TopicPartition("txn-in", 0, 7)], consumer.consumer_group_metadata(), 30
        )
        producer.commit_transaction(30)
        committed = wait_until(
            lambda: _committed(consumer) if _committed(consumer) == 7 else None, timeout_s=30, interval_s=0.2
        )
        assert committed == 7
    finally:
        consumer.close()
    assert _read_committed(sasl, "txn-out", 5) == [b"v%d" % i for i in range(5)]
    # ListTransactions lists only what the caller may DESCRIBE: nothing for bob, alice-txn for the super user
    with sasl_raw(sasl, "bob") as bob:
        listed = bob.request(66, 0, {"state_filters": [], "producer_id_filters": []})
        assert (listed.error_code, list(listed.transaction_states)) == (NONE, [])
    with sasl_raw(sasl, "admin") as admin:
        listed = admin.request(66, 0, {"state_filters": [], "producer_id_filters": []})
        assert [t.transactional_id for t in listed.transaction_states] == ["alice-txn"]


def _committed(consumer: Consumer) -> int:
    try:
        return consumer.committed([TopicPartition("txn-in", 0)], timeout=10)[0].offset
    except KafkaException:
        return -1


def _read_committed(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = Consumer(
        client_conf(
            bootstrap,
            "admin",
            **{
                "group.id": "txn-reader",
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
            },
        )
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    seen: list[bytes] = []
    deadline = time.monotonic() + 30
    try:
        while len(seen) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                seen.append(msg.value())
    finally:
        consumer.close()
    return seen
