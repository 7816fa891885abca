"""A 3-broker cluster whose only listener is SASL_SSL (BrookCluster(secured=True)): the brokers replicate,
send transaction markers and take over leadership over SASL_SSL as their SCRAM super user, with ACLs on and
allow.everyone.if.no.acl.found=false; a client without CLUSTER_ACTION cannot act as a broker."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import (
    AclOperation,
    AdminClient,
    NewTopic,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from brook.protocol.scram import ScramClient
from brook.testing.cluster import BrookCluster
from brook.testing.cluster_security import ClusterSecurity
from tests.integration.acl_helpers import acl, create_acls
from tests.integration.raw_client import RawClient, fetch_body
from tests.integration.txn_raw import write_markers

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]

TOPIC_DENIED, CLUSTER_DENIED, SASL_FAILED = 29, 31, 58


@pytest.fixture(scope="module")
def cluster(zookeeper_server, tmp_path_factory) -> Iterator[BrookCluster]:
    connect = f"{zookeeper_server.connect}/brook-secured-inter-broker-{time.monotonic_ns()}"
    overrides = {
        "min.insync.replicas": "2",
        "default.replication.factor": "3",
        "replica.lag.time.max.ms": "5000",
    }
    with BrookCluster(
        3, zookeeper=connect, data_dir=tmp_path_factory.mktemp("secured"), overrides=overrides, secured=True
    ) as cluster:
        admin = AdminClient(cluster.client_config())
        for future in admin.create_topics(
            [NewTopic("orders", 3, 3), NewTopic("txn-out", 1, 3), NewTopic("failover", 1, 3)]
        ).values():
            future.result(timeout=60)
        yield cluster
        assert not cluster.unexpected_exits
        output = [line for b in cluster.brokers.values() for line in b.output]
        # (test_a_password_changed... fails bob on purpose; the brokers themselves never fail)
        assert not [line for line in output if "user=broker:" in line or "inter-broker SASL" in line]


def _produce(
    config: dict[str, str], topic: str, values: list[str], **extra: object
) -> list[tuple[int, int, str]]:
    """(partition, offset, value) of every acknowledged record."""
    producer = Producer({**config, "acks": "all", "enable.idempotence": True, **extra})
    acked: list[tuple[int, int, str]] = []

    def on_delivery(err, msg):
        if err is None:
            acked.append((msg.partition(), msg.offset(), msg.value().decode()))

    for value in values:
        producer.produce(topic, key=value, value=value, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(90) == 0
    return acked


def _consume(
    config: dict[str, str], topic: str, partitions: int, count: int, **extra: object
) -> list[tuple[int, int, str]]:
    """Every partition from offset 0 (assigned: no group coordinator in the way after a broker kill)."""
    consumer = Consumer({**config, "group.id": f"g-{topic}", "enable.auto.commit": False, **extra})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got: list[tuple[int, int, str]] = []
    deadline = time.monotonic() + 90
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                assert msg.error().code() == KafkaError._PARTITION_EOF, msg.error()
                continue
            got.append((msg.partition(), msg.offset(), msg.value().decode()))
        # nothing beyond what was expected turns up
        extra_msg = consumer.poll(2.0)
        assert extra_msg is None or extra_msg.error(), extra_msg.value()
    finally:
        consumer.close()
    return got


def _in_sync(cluster: BrookCluster, topic: str, partitions: int) -> bool:
    states = [cluster.partition_state(topic, p) for p in range(partitions)]
    return all(s is not None and len(s["isr"]) == 3 for s in states)


def test_replicated_acks_all_produce_and_consume(cluster):
    config = cluster.client_config()
    values = [f"v{i}" for i in range(300)]
    acked = _produce(config, "orders", values)
    assert sorted(v for _, _, v in acked) == sorted(values)
    got = _consume(config, "orders", 3, len(values))
    assert sorted(got) == sorted(acked)  # same partitions, offsets and values
    # followers fetched everything over SASL_SSL: the ISR is full again
    cluster.wait_until(lambda: _in_sync(cluster, "orders", 3), 60, "full ISR of orders")


def test_a_transaction_commit_reaches_read_committed_consumers(cluster):
    config = cluster.client_config()
    producer = Producer({**config, "transactional.id": "secured-txn", "acks": "all"})
    producer.init_transactions(60)
    producer.begin_transaction()
    for i in range(5):
        producer.produce("txn-out", value=f"aborted-{i}")
    producer.abort_transaction(60)
    producer.begin_transaction()
    for i in range(10):
        producer.produce("txn-out", value=f"committed-{i}")
    producer.commit_transaction(60)  # markers go from the coordinator to the leader over SASL_SSL
    got = _consume(config, "txn-out", 1, 10, **{"isolation.level": "read_committed"})
    assert [v for _, _, v in got] == [f"committed-{i}" for i in range(10)]
    # the next transaction starts at once: the previous one's markers were all written
    producer.begin_transaction()
    producer.produce("txn-out", value="second")
    producer.commit_transaction(60)


def test_a_leader_kill_loses_no_acknowledged_record(cluster):
    config = cluster.client_config()
    cluster.wait_until(lambda: _in_sync(cluster, "failover", 1), 60, "full ISR of failover")
    before = _produce(config, "failover", [f"a{i}" for i in range(100)])
    leader = cluster.leader("failover", 0)
    assert leader is not None
    cluster.kill(leader)
    try:
        cluster.wait_until(
            lambda: cluster.leader("failover", 0) not in (None, leader), 60, "a new leader of failover-0"
        )
        after = _produce(config, "failover", [f"b{i}" for i in range(100)])
        acked = before + after
        got = _consume(config, "failover", 1, len(acked))
        assert got == sorted(acked, key=lambda r: r[1])  # every acked record, in offset order, no more
    finally:
        cluster.start_broker(leader)
    cluster.wait_until(lambda: _in_sync(cluster, "failover", 1), 90, "the restarted broker back in the ISR")


def _tls_raw(cluster: BrookCluster, node_id: int) -> RawClient:
    security = cluster.security
    assert security is not None
    raw = RawClient(cluster.brokers[node_id].bootstrap)
    context = ssl.create_default_context(cafile=str(security.pki.ca))
    raw.sock = context.wrap_socket(raw.sock, server_hostname="127.0.0.1")
    return raw


def _scram_error(cluster: BrookCluster, node_id: int, user: str, password: str) -> int:
    """The error code of a SCRAM-SHA-256 authentication on broker `node_id` (0: authenticated)."""
    raw = _tls_raw(cluster, node_id)
    try:
        assert raw.request(17, 1, {"mechanism": "SCRAM-SHA-256"}).error_code == 0
        scram = ScramClient("SCRAM-SHA-256", user, password)
        first = raw.request(36, 2, {"auth_bytes": scram.first()})
        if first.error_code:
            return int(first.error_code)
        final = raw.request(36, 2, {"auth_bytes": scram.final(bytes(first.auth_bytes))})
        if final.error_code == 0:
            scram.verify(bytes(final.auth_bytes))
        return int(final.error_code)
    finally:
        raw.close()


def test_a_password_changed_through_one_broker_holds_on_every_broker(cluster):
    """Each broker caches SCRAM credentials; the change notification refreshes them everywhere."""
    old, new = ClusterSecurity.USERS["bob"], "bob-new-secret"
    assert all(_scram_error(cluster, n, "bob", old) == 0 for n in range(3))  # cached on every broker
    admin = AdminClient({**cluster.client_config(), "bootstrap.servers": cluster.brokers[0].bootstrap})
    change = UserScramCredentialUpsertion(
        "bob", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), new.encode()
    )
    admin.alter_user_scram_credentials([change])["bob"].result(timeout=30)
    for node in range(3):
        cluster.wait_until(
            lambda n=node: _scram_error(cluster, n, "bob", new) == 0, 30, f"new password on {node}"
        )
        assert _scram_error(cluster, node, "bob", old) == SASL_FAILED
    deletion = UserScramCredentialDeletion("bob", ScramMechanism.SCRAM_SHA_256)
    admin.alter_user_scram_credentials([deletion])["bob"].result(timeout=30)
    for node in range(3):
        cluster.wait_until(
            lambda n=node: _scram_error(cluster, n, "bob", new) == SASL_FAILED, 30, f"bob gone on {node}"
        )


def _raw_as(cluster: BrookCluster, user: str, node_id: int) -> RawClient:
    """A raw SASL_SSL connection (PLAIN) to broker `node_id`."""
    raw = _tls_raw(cluster, node_id)
    assert raw.request(17, 1, {"mechanism": "PLAIN"}).error_code == 0
    password = ClusterSecurity.USERS[user]
    assert raw.request(36, 2, {"auth_bytes": f"\0{user}\0{password}".encode()}).error_code == 0
    return raw


def _replica_fetch(raw: RawClient, topic: str, replica_id: int) -> int:
    body = fetch_body(topic, 0, max_wait_ms=0)
    body["replica_id"] = replica_id
    return raw.request(1, 12, body).responses[0].partitions[0].error_code


def test_a_client_without_cluster_action_cannot_act_as_a_broker(cluster):
    admin = AdminClient(cluster.client_config())
    create_acls(
        admin,
        [
            acl(ResourceType.TOPIC, "orders", "User:alice", AclOperation.READ),
            acl(ResourceType.TOPIC, "orders", "User:alice", AclOperation.WRITE),
        ],
    )
    cluster.wait_until(lambda: cluster.leader("orders", 0) is not None, 30, "a leader of orders-0")
    leader = cluster.leader("orders", 0)
    assert leader is not None
    follower = next(n for n in range(3) if n != leader)
    alice = _raw_as(cluster, "alice", leader)
    try:
        deadline = time.monotonic() + 30
        while _replica_fetch(alice, "orders", -1) != 0:  # as a consumer: allowed once the ACLs reached it
            assert time.monotonic() < deadline, "alice's READ never took effect"
            time.sleep(0.2)
        assert _replica_fetch(alice, "orders", follower) == TOPIC_DENIED
        assert write_markers(alice, 1000, 0, True, {"orders": [0]}) == {("orders", 0): CLUSTER_DENIED}
    finally:
        alice.close()
    admin_raw = _raw_as(cluster, "admin", leader)  # a super user gets past authorization
    try:
        assert _replica_fetch(admin_raw, "orders", follower) == 0
    finally:
        admin_raw.close()
