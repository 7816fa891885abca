"""On a ZooKeeper cluster, deleting a topic removes its committed offsets: the group's coordinator learns of the
deletion from the metadata (whichever broker deleted it) and writes tombstones, so a failover keeps them gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing import BrookProcess
from tests.cluster.brokers import brook_on
from tests.integration.helpers import wait_until
from tests.integration.test_deleted_topic_offsets import commit, committed

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]


def cluster_broker(zookeeper: str, data_dir: Path, node_id: int) -> BrookProcess:
    return brook_on(
        zookeeper,
        data_dir,
        node_id,
        **{
            "zookeeper.session.timeout.ms": "6000",
            "offsets.topic.replication.factor": "2",
            "offsets.topic.num.partitions": "1",
            "default.replication.factor": "2",
        },
    )


def coordinator_of(bootstrap: str, group: str) -> int | None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        future = admin.describe_consumer_groups([group])[group]
        return future.result(10).coordinator.id  # type: ignore[no-any-return]
    except Exception:  # noqa: BLE001 - no coordinator yet
        return None


def _committed_or_none(bootstrap: str, group: str) -> dict[tuple[str, int], int] | None:
    try:
        return committed(bootstrap, group)
    except Exception:  # noqa: BLE001 - COORDINATOR_NOT_AVAILABLE / loading while the group moves
        return None


def test_deleted_topic_offsets_are_tombstoned_by_the_coordinator_and_survive_failover(zookeeper, tmp_path):
    brokers = {n: cluster_broker(zookeeper, tmp_path / f"b{n}", n) for n in (0, 1)}
    for b in brokers.values():
        b.start()
    try:
        bootstrap = ",".join(b.bootstrap for b in brokers.values())
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic("tdel", 2, 2), NewTopic("tkeep", 1, 2)]).values():
            future.result(15)
        wait_until(lambda: all(admin.list_topics(timeout=10).topics.get(t) for t in ("tdel", "tkeep")))
        wait_until(lambda: _try_commit(bootstrap), timeout_s=60)
        assert committed(bootstrap, "g") == {("tdel", 0): 3, ("tdel", 1): 4, ("tkeep", 0): 5}
        [coordinator] = wait_until(lambda: _found(coordinator_of(bootstrap, "g")), timeout_s=30)
        other = brokers[1 - coordinator]

        # deleted through the broker that does not coordinate the group: it learns from ZooKeeper
        other_admin = AdminClient({"bootstrap.servers": other.bootstrap})
        other_admin.delete_topics(["tdel"])["tdel"].result(15)
        wait_until(lambda: _committed_or_none(bootstrap, "g") == {("tkeep", 0): 5}, timeout_s=30)
        assert brokers[coordinator].wait_for_log(r"removed offsets of deleted topics group=g partitions=2")

        # the other broker takes the group over from __consumer_offsets: the tombstones keep them gone
        brokers[coordinator].stop()
        wait_until(lambda: coordinator_of(other.bootstrap, "g") == 1 - coordinator, timeout_s=60)
        assert wait_until(lambda: _committed_or_none(other.bootstrap, "g"), timeout_s=60) == {("tkeep", 0): 5}
    finally:
        for b in brokers.values():
            b.stop()


def _found(node_id: int | None) -> list[int] | None:
    return None if node_id is None else [node_id]  # node 0 is falsy: wrap it for wait_until


def _try_commit(bootstrap: str) -> bool:
    try:
        commit(bootstrap, "g", {("tdel", 0): 3, ("tdel", 1): 4, ("tkeep", 0): 5})
    except Exception:  # noqa: BLE001 - the offsets topic is created on first use
        return False
    return True
