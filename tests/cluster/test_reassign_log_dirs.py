"""kafka-reassign-partitions.sh with "log_dirs" (its rollback file names each replica's dir): AlterReplicaLogDirs
places the replica that moves in, in the dir named, and refuses a dir the broker does not have."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from tests.cluster.cluster_faults import QUIET, cluster_on
from tests.tools.kafka_tools import run_tool

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


def test_a_move_with_log_dirs_places_the_new_replica_in_the_dir_named(zookeeper, tmp_path):
    # (which of several dirs a preferred dir beats: tests/unit/storage/test_log_manager.py)
    with cluster_on(zookeeper, tmp_path) as cluster:
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap, **QUIET})
        admin.create_topics([NewTopic("placed", 1, replica_assignment=[[0]])])["placed"].result(30)
        broker_1 = cluster.broker(1).data_dir
        plan = tmp_path / "plan.json"
        plan.write_text(
            json.dumps(
                {
                    "version": 1,
                    "partitions": [
                        {"topic": "placed", "partition": 0, "replicas": [1], "log_dirs": [str(broker_1)]}
                    ],
                }
            )
        )
        done = run_tool("kafka-reassign-partitions", "--bootstrap-server", cluster.bootstrap, "--execute",
                        "--reassignment-json-file", str(plan))  # fmt: skip
        assert "Successfully started partition reassignment for placed-0" in done.stdout
        assert (
            f"Successfully started moving log directory to {broker_1} for replica placed-0 with broker 1"
            in (done.stdout)
        )
        cluster.wait_until(
            lambda: cluster._json("/brokers/topics/placed")["partitions"] == {"0": [1]},
            60,
            "placed on broker 1",
        )
        assert (broker_1 / "placed-0").is_dir()

        plan.write_text(
            json.dumps(
                {
                    "version": 1,
                    "partitions": [
                        {
                            "topic": "placed",
                            "partition": 0,
                            "replicas": [1],
                            "log_dirs": [str(tmp_path / "nowhere")],
                        }
                    ],
                }
            )
        )
        refused = run_tool("kafka-reassign-partitions", "--bootstrap-server", cluster.bootstrap, "--execute",
                           "--reassignment-json-file", str(plan), expect_exit=1)  # fmt: skip
        assert "LogDirNotFoundException" in refused.stdout + refused.stderr
