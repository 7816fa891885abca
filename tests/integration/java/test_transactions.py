"""The Java transactional producer (kafka-clients 4.4.0 and 3.9.2) against a real brook: commit visible to
read_committed, abort never, offsets sent to the transaction, a fenced zombie."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.integration.helpers import read_values
from tests.integration.java.driver import JavaError
from tests.integration.java.helpers import create_topic


def test_java_transactions_commit_abort_offsets_and_fencing(java, broker, names):
    topic, source, group, txn_id = names("jtx"), names("jtx-in"), names("jtx-group"), names("jtx-id")
    create_topic(java, topic, 1)
    create_topic(java, source, 1)
    config = {"bootstrap.servers": broker.bootstrap, "transactional.id": txn_id}

    def send(name: str, values: list[str], **transaction: object) -> list[dict[str, object]]:
        records = [{"key": None, "value": v, "headers": []} for v in values]
        return java.call(
            "produce", name=name, config=config, topic=topic, records=records, transaction=transaction
        )

    assert not [m for m in send("p1", ["c0", "c1"], commit=True) if "error" in m]
    send("p1", ["aborted"], commit=False)
    offsets = {"group": group, "topic": source, "partition": 0, "offset": 5}
    send("p1", ["c2"], commit=True, offsets=offsets)
    # a second instance fences the first
    send("p2", ["successor"], commit=True)
    with pytest.raises(JavaError) as fenced:
        send("p1", ["zombie"], commit=True)
    assert fenced.value.type in ("ProducerFencedException", "InvalidProducerEpochException", "KafkaException")
    java.call("producer_close", name="p1")
    java.call("producer_close", name="p2")

    assert read_values(broker.bootstrap, topic, 1, "read_committed", until=4) == [
        b"c0",
        b"c1",
        b"c2",
        b"successor",
    ]
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        assert consumer.committed([TopicPartition(source, 0)], timeout=10)[0].offset == 5
    finally:
        consumer.close()
