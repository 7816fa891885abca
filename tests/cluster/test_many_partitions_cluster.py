"""Issue 12 on a cluster: followers open their replicas through the same path (one descriptor per
partition at rest on every broker), and the open-files budget refuses a CreateTopics every broker could
not hold."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from brook.common.errors import ErrorCode
from tests.cluster.brokers import brook_on
from tests.integration.helpers import wait_until
from tests.integration.raw_client import RawClient

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]

PARTITIONS = 300


def _descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _log_bytes(data_dir: Path, topic: str, partition: int) -> bytes:
    return b"".join(p.read_bytes() for p in sorted((data_dir / f"{topic}-{partition}").glob("*.log")))


def test_followers_hold_one_descriptor_per_replica_and_the_budget_holds_everywhere(zookeeper, zk, tmp_path):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    reserved = hard - 256 - 400  # every broker may host 400 partition replicas
    dirs = [tmp_path / f"b{i}" for i in range(2)]
    brokers = [
        brook_on(
            zookeeper,
            dirs[i],
            i,
            **{"brook.open.files.reserved": str(reserved), "offsets.topic.replication.factor": "1"},
        )
        for i in range(2)
    ]
    for b in brokers:
        b.start()
    try:
        wait_until(lambda: len(zk.get_children("/brokers/ids")) == 2, timeout_s=30)
        bootstrap = ",".join(b.bootstrap for b in brokers)
        pids = [b.process.pid for b in brokers if b.process is not None]
        before = [_descriptors(pid) for pid in pids]
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic("wide", PARTITIONS, 2)])["wide"].result(60)
        wait_until(
            lambda: all(len(list(d.glob("wide-*"))) == PARTITIONS for d in dirs), timeout_s=60, interval_s=0.5
        )

        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
        failures: list[object] = []
        for p in range(PARTITIONS):
            producer.produce(
                "wide", b"v%d" % p, partition=p, on_delivery=lambda err, _m: err and failures.append(err)
            )
        assert producer.flush(60) == 0
        assert failures == []
        # Leaders and followers hold the same bytes for every partition.
        wait_until(
            lambda: all(
                _log_bytes(dirs[0], "wide", p) == _log_bytes(dirs[1], "wide", p) != b""
                for p in range(PARTITIONS)
            ),
            timeout_s=60,
            interval_s=0.5,
        )
        after = [_descriptors(pid) for pid in pids]
        for b, a in zip(before, after, strict=True):
            assert a - b <= PARTITIONS + 60  # one per replica, plus replication connections

        # 2 x 150 replicas over 2 brokers = 150 more each: 450 > 400 on every broker, refused whole.
        raw = RawClient(brokers[0].bootstrap, timeout_s=60)
        try:
            response = raw.request(
                19,
                5,
                {
                    "topics": [{"name": "wider", "num_partitions": 150, "replication_factor": 2}],
                    "timeout": 30000,
                },
            )
        finally:
            raw.close()
        assert response.topics[0].error_code == ErrorCode.policy_violation
        assert "RLIMIT_NOFILE" in response.topics[0].error_message
        assert not zk.exists("/brokers/topics/wider")
        assert not any(list(d.glob("wider-*")) for d in dirs)
    finally:
        for b in brokers:
            b.stop()
