"""Consumer groups with kafka-python (3.0.12) and aiokafka (0.14): shared partitions, commits, admin."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import threading
import time
from collections import Counter

import pytest
from aiokafka import AIOKafkaConsumer
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KTP
from kafka.structs import OffsetAndMetadata

from brook.testing import BrookProcess
from tests.integration.group_helpers import create_topics, produce
from tests.integration.helpers import wait_until


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    # Kafka's initial rebalance delay (3 s by default; 0 elsewhere in the tests) lets kafka-python 3.0.12
    # fetch the topic's metadata before its first assignment. With 0 it sometimes assigns nothing, rejoins
    # at once, and then stops heartbeating altogether (seen here: every request it sent was answered).
    with BrookProcess(
        data_dir=tmp_path_factory.mktemp("brook"), overrides={"group.initial.rebalance.delay.ms": "1000"}
    ) as b:
        yield b


def kp_consumer(broker, group: str, **config) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
        **config,
    )


class Polling:
    """Polls a kafka-python consumer in its own thread (its poll blocks while the group rebalances)."""

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer
        self.records: list = []
        self.assignment: set = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for records in self.consumer.poll(timeout_ms=50).values():
                self.records.extend(records)
            self.assignment = set(self.consumer.assignment())

    def stop(self, commit: bool = False) -> None:
        self._stop.set()
        self._thread.join(10)
        if commit:
            self.consumer.commit()
        self.consumer.close()


def test_kafka_python_members_share_partitions_and_resume_from_commits(broker):
    create_topics(broker.bootstrap, 4, "kp")
    members = []
    for _ in range(2):
        c = kp_consumer(broker, "kp-g", enable_auto_commit=False)
        c.subscribe(["kp"])
        members.append(Polling(c))
    a, b = members
    wait_until(
        lambda: len(a.assignment) == 2 and len(b.assignment) == 2 and not a.assignment & b.assignment, 30
    )
    values = produce(broker.bootstrap, "kp", 4, 10)
    wait_until(lambda: len(a.records) + len(b.records) >= 40, 30)
    assert Counter(r.value for r in a.records + b.records) == Counter(values)
    for m in members:
        assert {KTP(r.topic, r.partition) for r in m.records} <= m.assignment
    a.stop(commit=True)  # leaves the group: b takes over all four partitions
    wait_until(lambda: len(b.assignment) == 4, 30)
    b.stop(commit=True)

    later = produce(broker.bootstrap, "kp", 4, 2, tag="later")
    c = kp_consumer(broker, "kp-g")
    c.subscribe(["kp"])
    again = Polling(c)
    wait_until(lambda: len(again.records) >= 8, 30)
    time.sleep(0.3)
    again.stop()
    assert sorted(r.value for r in again.records) == sorted(later)


def test_kafka_python_admin_lists_describes_and_deletes_groups(broker):
    create_topics(broker.bootstrap, 1, "kp-admin")
    c = kp_consumer(broker, "kp-admin-g", enable_auto_commit=False)
    c.assign([KTP("kp-admin", 0)])
    c.commit({KTP("kp-admin", 0): OffsetAndMetadata(3, "meta", -1)})
    c.close()
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        assert {"group_id": "kp-admin-g", "protocol_type": "", "group_state": "Empty"} in admin.list_groups()
        offsets = admin.list_group_offsets({"kp-admin-g": None})["kp-admin-g"]
        assert offsets == {KTP("kp-admin", 0): OffsetAndMetadata(3, "meta", -1)}
        assert admin.describe_groups(["kp-admin-g"])["kp-admin-g"]["group_state"] == "Empty"
        assert admin.delete_groups(["kp-admin-g", "nope"]) == {
            "kp-admin-g": "OK",
            "nope": "GroupIdNotFoundError",
        }
        assert admin.list_groups() == [] or "kp-admin-g" not in [g["group_id"] for g in admin.list_groups()]
    finally:
        admin.close()


async def test_aiokafka_members_share_partitions_then_one_leaves(broker):
    create_topics(broker.bootstrap, 4, "aio")

    def make() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            "aio",
            bootstrap_servers=broker.bootstrap,
            group_id="aio-g",
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=300,
            enable_auto_commit=False,
        )

    a, b = make(), make()
    await a.start()
    await b.start()
    try:
        received: list = []

        async def drain(c: AIOKafkaConsumer) -> None:
            for records in (await c.getmany(timeout_ms=50)).values():
                received.extend(records)

        async def until(predicate, timeout_s=30.0):
            deadline = time.monotonic() + timeout_s
            while not predicate():
                assert time.monotonic() < deadline, [len(a.assignment()), len(b.assignment()), len(received)]
                await asyncio.gather(drain(a), drain(b))

        await until(lambda: len(a.assignment()) == 2 and len(b.assignment()) == 2)
        first = await asyncio.to_thread(produce, broker.bootstrap, "aio", 4, 5, "a")
        await until(lambda: len(received) >= 20)
        assert Counter(r.value for r in received) == Counter(first)
        await a.commit()
        await b.commit()
        await b.stop()  # LeaveGroup: a takes over all four partitions
        deadline = time.monotonic() + 20
        while len(a.assignment()) != 4:
            assert time.monotonic() < deadline
            await drain(a)
        second = await asyncio.to_thread(produce, broker.bootstrap, "aio", 4, 5, "b")
        while len(received) < 40:
            assert time.monotonic() < deadline + 10
            await drain(a)
        assert Counter(r.value for r in received) == Counter(first | second)
        committed = await a.committed(next(iter(a.assignment())))
        assert committed is not None
    finally:
        await a.stop()
        await b.stop()


def test_kcat_balanced_consumer_commits_and_resumes(broker):
    """Debian's kcat 1.7.1 bundles librdkafka 2.0.2: an old client's group protocol."""
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.fail("kcat is not installed: `make test` installs Debian's kcat")
    create_topics(broker.bootstrap, 3, "kc")

    def consume_group() -> list[str]:
        result = subprocess.run(
            [
                kcat,
                "-b",
                broker.bootstrap,
                "-G",
                "kc-g",
                "-X",
                "auto.offset.reset=earliest",
                "-e",
                "-f",
                "%s\n",
                "kc",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    first = produce(broker.bootstrap, "kc", 3, 4)
    assert sorted(consume_group()) == sorted(v.decode() for v in first)
    second = produce(broker.bootstrap, "kc", 3, 2, tag="again")
    assert sorted(consume_group()) == sorted(v.decode() for v in second)
