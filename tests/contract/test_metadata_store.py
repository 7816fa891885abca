"""The MetadataStore contract: EmbeddedMetadataStore and ZooKeeperMetadataStore answer every question the same way.

`open_store()` opens a store on the same backing data each time (the data dir, or the test's ZooKeeper chroot),
so "close and open again" checks what survives a broker restart.
"""

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from brook.common.errors import InvalidPartitions, TopicAlreadyExists, UnknownTopicOrPartition
from brook.metadata.api import BrokerInfo, MetadataStore
from brook.metadata.embedded import EmbeddedMetadataStore
from brook.metadata.zookeeper import ZooKeeperMetadataStore

StoreFactory = Callable[[], MetadataStore]
ME = BrokerInfo(0, "127.0.0.1", 9092)


@pytest.fixture(params=["embedded", pytest.param("zookeeper", marks=pytest.mark.zookeeper)])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[MetadataStore] = []
    connect = request.getfixturevalue("zookeeper") if request.param == "zookeeper" else ""

    def factory() -> MetadataStore:
        store: MetadataStore
        if request.param == "embedded":
            store = EmbeddedMetadataStore(tmp_path, node_id=0)
        else:
            store = ZooKeeperMetadataStore(connect, node_id=0)
        store.register_broker(ME)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: StoreFactory) -> MetadataStore:
    return open_store()


def reopen(store: MetadataStore, open_store: StoreFactory) -> MetadataStore:
    store.close()
    return open_store()


def test_new_store_has_cluster_id_and_no_topics(store: MetadataStore) -> None:
    assert len(store.cluster_id) == 22
    assert dict(store.topics()) == {}
    assert store.topic("missing") is None
    assert store.controller_id == 0


def test_registered_broker_is_live(store: MetadataStore) -> None:
    assert store.live_brokers() == [ME]


def test_create_topic_assigns_partitions_to_this_broker(store: MetadataStore) -> None:
    state = store.create_topic("orders", 3, 1, {"retention.ms": "1000"})
    assert state.name == "orders"
    assert sorted(state.partitions) == [0, 1, 2]
    for p, s in state.partitions.items():
        assert (s.partition, s.replicas, s.leader, s.leader_epoch, s.isr) == (p, (0,), 0, 0, (0,))
    assert dict(state.configs) == {"retention.ms": "1000"}
    assert not state.internal
    assert store.topic("orders") == state
    assert list(store.topics()) == ["orders"]


def test_create_existing_topic_fails(store: MetadataStore) -> None:
    store.create_topic("orders", 1, 1, {})
    with pytest.raises(TopicAlreadyExists):
        store.create_topic("orders", 2, 1, {})
    assert len(store.topic("orders").partitions) == 1  # type: ignore[union-attr]


def test_topic_ids_are_distinct(store: MetadataStore) -> None:
    a = store.create_topic("a", 1, 1, {})
    b = store.create_topic("b", 1, 1, {})
    assert a.topic_id != b.topic_id
    assert a.topic_id.int != 0


def test_consumer_offsets_is_internal(store: MetadataStore) -> None:
    assert store.create_topic("__consumer_offsets", 2, 1, {}, internal=True).internal


def test_delete_topic(store: MetadataStore) -> None:
    created = store.create_topic("gone", 2, 1, {"cleanup.policy": "compact"})
    assert store.delete_topic("gone") == created
    assert store.topic("gone") is None
    assert "gone" not in store.topics()
    with pytest.raises(UnknownTopicOrPartition):
        store.delete_topic("gone")


def test_deleted_topic_can_be_created_again_without_old_configs(store: MetadataStore) -> None:
    old = store.create_topic("again", 2, 1, {"cleanup.policy": "compact"})
    store.delete_topic("again")
    new = store.create_topic("again", 1, 1, {})
    assert new.topic_id != old.topic_id
    assert dict(new.configs) == {}
    assert len(new.partitions) == 1


def test_add_partitions_keeps_existing_ones(store: MetadataStore) -> None:
    before = store.create_topic("grow", 2, 1, {})
    after = store.add_partitions("grow", 5)
    assert sorted(after.partitions) == [0, 1, 2, 3, 4]
    assert after.partitions[0] == before.partitions[0]
    assert after.topic_id == before.topic_id
    assert after.partitions[4].leader == 0
    assert store.topic("grow") == after


def test_add_partitions_rejects_shrinking_and_unknown_topics(store: MetadataStore) -> None:
    store.create_topic("grow", 3, 1, {})
    with pytest.raises(InvalidPartitions):
        store.add_partitions("grow", 3)
    with pytest.raises(InvalidPartitions):
        store.add_partitions("grow", 1)
    with pytest.raises(UnknownTopicOrPartition):
        store.add_partitions("nope", 4)


def test_set_topic_configs_replaces_them(store: MetadataStore) -> None:
    store.create_topic("conf", 1, 1, {"retention.ms": "1000", "cleanup.policy": "compact"})
    state = store.set_topic_configs("conf", {"retention.ms": "2000"})
    assert dict(state.configs) == {"retention.ms": "2000"}
    assert dict(store.topic("conf").configs) == {"retention.ms": "2000"}  # type: ignore[union-attr]
    with pytest.raises(UnknownTopicOrPartition):
        store.set_topic_configs("nope", {})


def test_broker_configs(store: MetadataStore) -> None:
    assert dict(store.broker_configs()) == {}
    store.set_broker_configs({"log.retention.ms": "5000"})
    assert dict(store.broker_configs()) == {"log.retention.ms": "5000"}


def test_one_brokers_own_configs_are_apart_from_the_cluster_default(
    store: MetadataStore, open_store: StoreFactory
) -> None:
    store.set_broker_configs({"log.retention.ms": "5000"})
    store.set_broker_configs({"log.retention.ms": "7000", "max.connections": "9"}, node_id=0)
    store.set_broker_configs({"min.insync.replicas": "2"}, node_id=3)
    assert dict(store.broker_configs()) == {"log.retention.ms": "5000"}
    assert dict(store.broker_configs(0)) == {"log.retention.ms": "7000", "max.connections": "9"}
    assert dict(store.broker_configs(3)) == {"min.insync.replicas": "2"}
    again = reopen(store, open_store)
    assert dict(again.broker_configs(0)) == {"log.retention.ms": "7000", "max.connections": "9"}
    again.set_broker_configs({}, node_id=0)
    assert dict(again.broker_configs(0)) == {}
    assert dict(again.broker_configs()) == {"log.retention.ms": "5000"}


def test_everything_survives_reopening(store: MetadataStore, open_store: StoreFactory) -> None:
    cluster_id = store.cluster_id
    store.create_topic("kept", 2, 1, {"retention.ms": "1000"})
    store.add_partitions("kept", 3)
    store.create_topic("dropped", 1, 1, {})
    store.delete_topic("dropped")
    store.set_broker_configs({"log.retention.ms": "5000"})
    before = store.topic("kept")
    assert before is not None
    again = reopen(store, open_store)
    assert again.cluster_id == cluster_id
    assert list(again.topics()) == ["kept"]
    # A ZooKeeper store's broker registered anew: the controller elects its partitions' leaders again in a new
    # epoch (a leadership granted to a previous run is not resumed, as in Kafka); everything else is as it was.
    deadline = time.monotonic() + 30
    while any(p.leader < 0 for p in again.topic("kept").partitions.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    after = again.topic("kept")
    assert (after.name, after.topic_id, dict(after.configs)) == (
        before.name,
        before.topic_id,
        dict(before.configs),
    )
    assert {p: (s.replicas, s.leader, s.isr) for p, s in after.partitions.items()} == {
        p: (s.replicas, s.leader, s.isr) for p, s in before.partitions.items()
    }
    assert all(after.partitions[p].leader_epoch >= s.leader_epoch for p, s in before.partitions.items())
    assert dict(again.broker_configs()) == {"log.retention.ms": "5000"}


def test_producer_id_blocks_never_overlap(store: MetadataStore, open_store: StoreFactory) -> None:
    blocks = [(store.allocate_producer_ids(1000), 1000), (store.allocate_producer_ids(10), 10)]
    store = reopen(store, open_store)
    blocks.append((store.allocate_producer_ids(1000), 1000))
    ids = [pid for first, count in blocks for pid in range(first, first + count)]
    assert len(ids) == len(set(ids))
    assert min(ids) >= 0


def test_client_quotas_are_stored_per_entity_and_survive_reopening(
    store: MetadataStore, open_store: StoreFactory
) -> None:
    app = (("client-id", "app/1 ~x"),)  # a name that needs sanitizing in ZooKeeper
    default_client = (("client-id", None),)
    alice_default = (("user", "alice"), ("client-id", None))
    alice = (("user", "alice"),)
    assert dict(store.client_quotas()) == {}
    store.set_client_quota(app, {"producer_byte_rate": 1024.0})
    store.set_client_quota(default_client, {"consumer_byte_rate": 2048.0, "request_percentage": 12.5})
    store.set_client_quota(alice_default, {"producer_byte_rate": 10.0})
    store.set_client_quota(alice, {"request_percentage": 50.0})
    expected = {
        app: {"producer_byte_rate": 1024.0},
        default_client: {"consumer_byte_rate": 2048.0, "request_percentage": 12.5},
        alice_default: {"producer_byte_rate": 10.0},
        alice: {"request_percentage": 50.0},
    }
    assert dict(store.client_quotas()) == expected
    store.set_client_quota(alice, {})  # the user node still holds a client node in ZooKeeper
    del expected[alice]
    store = reopen(store, open_store)
    assert dict(store.client_quotas()) == expected
