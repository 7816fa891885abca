"""Restarts: topics, configs and data survive SIGTERM and SIGKILL; idempotent producers never duplicate."""

from __future__ import annotations

import threading
import time

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from brook.testing import BrookProcess
from tests.integration.helpers import consume_assigned, produce_all


def test_topics_configs_and_data_survive_clean_restart(tmp_path):
    with BrookProcess(data_dir=tmp_path / "d") as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics(
            [NewTopic("kept", num_partitions=3, replication_factor=1, config={"retention.ms": "123456"})]
        )["kept"].result(10)
        produce_all(broker.bootstrap, "kept", [(b"k", b"v%d" % i) for i in range(20)], partitioner="murmur2")
        cluster_id = admin.describe_cluster().result(10).cluster_id
        assert broker.stop() == 0
        broker.start()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        assert admin.describe_cluster().result(10).cluster_id == cluster_id
        metadata = admin.list_topics(timeout=10)
        assert len(metadata.topics["kept"].partitions) == 3
        configs = admin.describe_configs([ConfigResource("topic", "kept")])
        entries = next(iter(configs.values())).result(10)
        assert entries["retention.ms"].value == "123456"
        # every record has key b"k", so murmur2 put them all in one partition, in order
        found = [consume_assigned(broker.bootstrap, "kept", p, 20, timeout_s=3) for p in range(3)]
        values = [m.value() for msgs in found for m in msgs]
        assert values == [b"v%d" % i for i in range(20)]


def test_sigkill_while_producing_acks_all_loses_no_acknowledged_record(tmp_path):
    broker = BrookProcess(data_dir=tmp_path / "d").start()
    acked: list[tuple[int, bytes]] = []
    stop = threading.Event()

    def produce() -> None:
        producer = Producer(
            {
                "bootstrap.servers": broker.bootstrap,
                "acks": "all",
                "linger.ms": 2,
                "message.timeout.ms": 5000,
                "retries": 0,
            }
        )

        def on_delivery(err, msg) -> None:
            if err is None:
                acked.append((msg.offset(), msg.value()))

        i = 0
        while not stop.is_set():
            try:
                producer.produce("crash", value=b"r%06d" % i, on_delivery=on_delivery)
                i += 1
            except BufferError:
                pass
            producer.poll(0.001)
        producer.flush(10)

    thread = threading.Thread(target=produce)
    thread.start()
    deadline = time.monotonic() + 20
    while len(acked) < 2000 and time.monotonic() < deadline:
        time.sleep(0.05)
    broker.kill()
    stop.set()
    thread.join(30)
    assert len(acked) >= 2000
    broker.start()
    try:
        last = max(offset for offset, _ in acked)
        messages = consume_assigned(broker.bootstrap, "crash", 0, last + 1)
        stored = {m.offset(): m.value() for m in messages}
        for offset, value in acked:
            assert stored.get(offset) == value
        assert [m.offset() for m in messages] == list(range(len(messages)))
    finally:
        broker.close()


def test_idempotent_producer_across_restart_has_no_duplicates_or_gaps(tmp_path):
    broker = BrookProcess(data_dir=tmp_path / "d").start()
    try:
        producer = Producer(
            {
                "bootstrap.servers": broker.bootstrap,
                "enable.idempotence": True,
                "linger.ms": 5,
                "message.timeout.ms": 60000,
            }
        )
        for i in range(300):
            producer.produce("idem", value=b"%d" % i)
        assert producer.flush(20) == 0
        broker.stop()
        for i in range(300, 600):
            producer.produce("idem", value=b"%d" % i)
        broker.start()
        assert producer.flush(60) == 0
        messages = consume_assigned(broker.bootstrap, "idem", 0, 600)
        assert [m.value() for m in messages] == [b"%d" % i for i in range(600)]
    finally:
        broker.close()
