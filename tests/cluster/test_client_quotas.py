"""Client quotas on a ZooKeeper cluster: set through one broker, in Kafka's znodes, enforced by another."""

import json
import os
import time

import pytest

from brook.common.errors import ErrorCode
from brook.testing.batches import make_batch
from tests.cluster.brokers import brook_on
from tests.integration.helpers import wait_until
from tests.integration.raw_client import RawClient

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


def test_a_quota_set_on_one_broker_is_stored_in_zookeeper_and_enforced_by_the_other(zookeeper, zk, tmp_path):
    with brook_on(zookeeper, tmp_path / "b0", 0) as b0, brook_on(zookeeper, tmp_path / "b1", 1) as b1:
        raw0 = RawClient(b0.bootstrap)
        body = {
            "entries": [
                {
                    "entity": [{"entity_type": "client-id", "entity_name": "raw"}],
                    "ops": [{"key": "producer_byte_rate", "value": 50_000, "remove": False}],
                }
            ],
            "validate_only": False,
        }
        assert raw0.request(49, 1, body).entries[0].error_code == ErrorCode.none
        raw0.close()
        assert json.loads(zk.get("/config/clients/raw")[0]) == {
            "version": 1,
            "config": {"producer_byte_rate": "50000"},
        }

        raw1 = RawClient(b1.bootstrap)
        try:
            # two partitions: the broker's placement puts one on each broker
            topic = {"name": "quota-on-1", "num_partitions": 2, "replication_factor": 1}
            assert (
                raw1.request(19, 5, {"topics": [topic], "timeout": 5000}).topics[0].error_code
                == ErrorCode.none
            )
            describe = {
                "components": [{"entity_type": "client-id", "match_type": 0, "match": "raw"}],
                "strict": True,
            }
            wait_until(lambda: raw1.request(48, 1, describe).entries)
            time.sleep(1.5)  # broker 1 re-reads quota configs every second
            metadata = {"topics": [{"name": "quota-on-1"}], "allow_auto_topic_creation": False}
            led_by_1 = wait_until(
                lambda: [
                    p.partition_index
                    for p in raw1.request(3, 9, metadata).topics[0].partitions
                    if p.leader_id == 1
                ]
            )[0]

            def produce(batch: bytes):
                body = {
                    "acks": 1,
                    "timeout": 5000,
                    "topic_data": [
                        {"name": "quota-on-1", "partition_data": [{"index": led_by_1, "records": batch}]}
                    ],
                }
                return raw1.request(0, 9, body)

            tiny = bytes(make_batch([(b"k", b"v")]))
            # hosting the new partition on broker 1 goes through ZooKeeper watches: slow on a busy machine
            wait_until(
                lambda: produce(tiny).responses[0].partition_responses[0].error_code == ErrorCode.none,
                timeout_s=60,
            )
            # 900 kB against 50 kB/s over the 10 s minimum window: throttled at once
            response = produce(bytes(make_batch([(b"k", os.urandom(900_000))])))
            assert response.responses[0].partition_responses[0].error_code == ErrorCode.none
            assert response.throttle_time.total_seconds() > 0
        finally:
            raw1.close()
