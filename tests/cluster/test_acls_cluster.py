"""ACLs on a ZooKeeper cluster: stored in Kafka's znodes, created through one broker and enforced by every
broker within a second or so (each broker watches /kafka-acl-changes); replication runs over SASL as a
super user, so followers have CLUSTER_ACTION."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest

from brook.testing.security import plain_jaas
from tests.cluster.brokers import brook_on
from tests.integration.acl_helpers import USERS, authorizer_overrides, sasl_raw
from tests.integration.raw_client import RawClient

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
