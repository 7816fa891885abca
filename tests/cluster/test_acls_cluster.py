"""ACLs on a ZooKeeper cluster: stored in Kafka's znodes, created through one broker and enforced by every
broker within a second or so (each broker watches /kafka-acl-changes); replication runs over SASL as a
super user, so followers have CLUSTER_ACTION."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest

from brook.testing.batches import make_batch
from brook.testing.security import plain_jaas
from tests.cluster.brokers import brook_on
from tests.integration.acl_helpers import USERS, authorizer_overrides, sasl_raw
from tests.integration.raw_client import RawClient, produce_body

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]

TOPIC_DENIED = 29
ANY, TOPIC, LITERAL, PREFIXED, WRITE, ALLOW = 1, 2, 3, 4, 4, 3


def _overrides() -> dict[str, str]:
    return authorizer_overrides(
        **{
            "inter.broker.listener.name": "SASL_PLAINTEXT",
            "sasl.mechanism.inter.broker.protocol": "PLAIN",
            "sasl.jaas.config": plain_jaas(USERS, username="admin", password=USERS["admin"]),
        }
    )


def _binding(name: str, pattern_type: int) -> dict[str, object]:
    return {
        "resource_type": TOPIC,
        "resource_name": name,
        "resource_pattern_type": pattern_type,
        "principal": "User:bob",
        "host": "*",
        "operation": WRITE,
        "permission_type": ALLOW,
    }


def _filter(name: str, pattern_type: int) -> dict[str, object]:
    return {
        "resource_type_filter": TOPIC,
        "resource_name_filter": name,
        "pattern_type_filter": pattern_type,
        "principal_filter": "User:bob",
        "host_filter": None,
        "operation": ANY,
        "permission_type": ANY,
    }


def _leader_of(raw: RawClient, topic: str) -> int:
    """Partition 0's leader, once there is one."""
    deadline = time.monotonic() + 30
    while True:
        body = {"topics": [{"name": topic}], "allow_auto_topic_creation": False}
        partitions = raw.request(3, 12, body).topics[0].partitions
        if partitions and partitions[0].leader_id >= 0:
            return int(partitions[0].leader_id)
        assert time.monotonic() < deadline, f"no leader for {topic}-0"
        time.sleep(0.1)


def _bob_sees(raw: RawClient, topic: str) -> int:
    """The error bob gets for Metadata of `topic` (WRITE implies DESCRIBE)."""
    body = {"topics": [{"name": topic}], "allow_auto_topic_creation": False}
    return raw.request(3, 12, body).topics[0].error_code


def _seconds_until_every_broker(
    bobs: list[RawClient], topic: str, allowed: bool, deadline_s: float = 30.0
) -> float:
    start = time.monotonic()
    while True:
        codes = [_bob_sees(raw, topic) for raw in bobs]
        if all((code == 0) == allowed for code in codes):
            return time.monotonic() - start
        assert time.monotonic() - start < deadline_s, (
            f"brokers answered {codes} for {topic} after {deadline_s}s"
        )
        time.sleep(0.02)


def test_acls_created_on_one_broker_are_enforced_by_all(zookeeper, zk, tmp_path):
    with ExitStack() as stack:
        brokers = [brook_on(zookeeper, tmp_path / f"b{i}", i, **_overrides()) for i in range(3)]
        for broker in brokers:
            broker.startup_timeout_s = 120.0  # three interpreters importing at once on a busy machine
            stack.push(broker)  # stopped on the way out
        with ThreadPoolExecutor(3) as pool:  # three interpreters starting at once
            list(pool.map(lambda b: b.start(), brokers))
        sasl = [b.listener_bootstrap("SASL_PLAINTEXT") for b in brokers]
        admin = [stack.enter_context(_closing(sasl_raw(s, "admin"))) for s in sasl]
        bobs = [stack.enter_context(_closing(sasl_raw(s, "bob"))) for s in sasl]
        created = admin[0].request(
            19,
            7,
            {
                "topics": [
                    {"name": name, "num_partitions": 3, "replication_factor": 3}
                    for name in ("shared", "shared-prefixed")
                ],
                "timeout": 30_000,
            },
        )
        assert [t.error_code for t in created.topics] == [0, 0]
        # followers fetch as the super user (CLUSTER_ACTION): an acks=all write completes on all three
        leader = _leader_of(admin[0], "shared")
        produced = admin[leader].request(0, 9, produce_body("shared", 0, make_batch([(None, b"v")]), acks=-1))
        assert produced.responses[0].partition_responses[0].error_code == 0
        _seconds_until_every_broker(bobs, "shared", allowed=False)

        # a literal ACL through broker 0: Kafka's znode and change notification, every broker follows
        assert (
            admin[0].request(30, 3, {"creations": [_binding("shared", LITERAL)]}).results[0].error_code == 0
        )
        took = _seconds_until_every_broker(bobs, "shared", allowed=True)
        doc = json.loads(zk.get("/kafka-acl/Topic/shared")[0])
        assert doc == {
            "version": 1,
            "acls": [{"principal": "User:bob", "permissionType": "Allow", "operation": "Write", "host": "*"}],
        }
        changes = zk.get_children("/kafka-acl-changes")
        assert [zk.get(f"/kafka-acl-changes/{c}")[0] for c in changes] == [b"TOPIC:shared"]
        assert took < 5.0, f"took {took:.2f}s"

        # a prefixed ACL through broker 1
        assert (
            admin[1].request(30, 3, {"creations": [_binding("shared-", PREFIXED)]}).results[0].error_code == 0
        )
        _seconds_until_every_broker(bobs, "shared-prefixed", allowed=True)
        assert (
            json.loads(zk.get("/kafka-acl-extended/prefixed/Topic/shared-")[0])["acls"][0]["operation"]
            == "Write"
        )
        event = json.loads(
            zk.get(f"/kafka-acl-extended-changes/{zk.get_children('/kafka-acl-extended-changes')[0]}")[0]
        )
        assert event == {"version": 1, "resourceType": "TOPIC", "name": "shared-", "patternType": "PREFIXED"}

        # deleted through broker 2: every broker refuses again, the znode is gone
        deleted = admin[2].request(31, 3, {"filters": [_filter("shared", LITERAL)]}).filter_results[0]
        assert [(m.resource_name, m.principal) for m in deleted.matching_acls] == [("shared", "User:bob")]
        _seconds_until_every_broker(bobs, "shared", allowed=False)
        assert zk.exists("/kafka-acl/Topic/shared") is None
        # every broker lists the ACL that is left
        for raw in admin:
            described = raw.request(29, 3, _filter(None, ANY))  # type: ignore[arg-type]
            assert [(r.resource_name, r.pattern_type) for r in described.resources] == [("shared-", PREFIXED)]


class _closing:
    def __init__(self, raw: RawClient) -> None:
        self.raw = raw

    def __enter__(self) -> RawClient:
        return self.raw

    def __exit__(self, *exc: object) -> None:
        self.raw.close()


def _acl_names(raw: RawClient) -> list[tuple[str, int]]:
    """The (resource name, pattern type) of every topic ACL, as this broker's cache holds them."""
    described = raw.request(29, 3, _filter(None, ANY))  # type: ignore[arg-type]
    assert described.error_code == 0
    return sorted((r.resource_name, r.pattern_type) for r in described.resources)


def test_a_broker_cut_off_from_zookeeper_catches_up_on_acl_changes_and_a_restart_loads_them(
    zookeeper, zk, tmp_path
):
    from tests.cluster.test_zookeeper_failures import ZooKeeperLink

    overrides = {
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:ANONYMOUS",  # PLAINTEXT clients and replication: ACL changes need a super user
        "zookeeper.session.timeout.ms": "6000",
        "offsets.topic.replication.factor": "1",
    }
    zk_port = int(zookeeper.split("/")[0].split(":")[1])
    chroot = zookeeper.split("/", 1)[1]
    link = ZooKeeperLink(zk_port)
    b0 = brook_on(zookeeper, tmp_path / "b0", 0, **overrides)
    b1 = brook_on(f"127.0.0.1:{link.port}/{chroot}", tmp_path / "b1", 1, **overrides)
    with ExitStack() as stack:
        stack.callback(link.close)
        for broker in (b0, b1):
            broker.startup_timeout_s = 120.0
            stack.push(broker)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda b: b.start(), (b0, b1)))
        raw0 = stack.enter_context(_closing(RawClient(b0.bootstrap)))
        assert raw0.request(30, 3, {"creations": [_binding("before", LITERAL)]}).results[0].error_code == 0
        raw1 = RawClient(b1.bootstrap)
        deadline = time.monotonic() + 30
        while _acl_names(raw1) != [("before", LITERAL)]:
            assert time.monotonic() < deadline, _acl_names(raw1)
            time.sleep(0.05)
        raw1.close()

        owner = zk.exists("/brokers/ids/1").ephemeralOwner
        link.cut()  # past the session timeout: broker 1's session expires, its watches with it
        deadline = time.monotonic() + 60
        while zk.exists("/brokers/ids/1") is not None:
            assert time.monotonic() < deadline, "broker 1's session did not expire"
            time.sleep(0.2)
        assert raw0.request(30, 3, {"creations": [_binding("during-", PREFIXED)]}).results[0].error_code == 0
        assert (
            raw0.request(31, 3, {"filters": [_filter("before", LITERAL)]}).filter_results[0].error_code == 0
        )
        for changes in ("/kafka-acl-changes", "/kafka-acl-extended-changes"):  # as if purged (15 minutes old)
            for node in zk.get_children(changes):
                zk.delete(f"{changes}/{node}")
        link.heal()
        deadline = time.monotonic() + 60
        while (s := zk.exists("/brokers/ids/1")) is None or s.ephemeralOwner == owner:
            assert time.monotonic() < deadline, "broker 1 did not come back"
            time.sleep(0.2)
        raw1 = stack.enter_context(_closing(RawClient(b1.bootstrap)))
        deadline = time.monotonic() + 30
        while _acl_names(raw1) != [("during-", PREFIXED)]:  # what changed while it was away: read again
            assert time.monotonic() < deadline, _acl_names(raw1)
            time.sleep(0.05)
        raw1.close()

        b1.stop()
        assert (
            raw0.request(30, 3, {"creations": [_binding("while-down", LITERAL)]}).results[0].error_code == 0
        )
        b1.start()
        raw1 = stack.enter_context(_closing(RawClient(b1.bootstrap)))
        # loaded before the listener opened: the first answer already has them
        assert _acl_names(raw1) == [("during-", PREFIXED), ("while-down", LITERAL)]
