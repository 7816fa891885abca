"""ZooKeeperMetadataStore beyond the contract: Kafka's znode formats, two stores sharing one ZooKeeper,
controller election, watches feeding the cluster image, producer id blocks under contention."""

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss

from brook.metadata.api import BrokerInfo
from brook.metadata.zookeeper import ZooKeeperMetadataStore, assign_replicas, decode_topic_id
from tests.integration.helpers import wait_until

pytestmark = pytest.mark.zookeeper


@pytest.fixture
def stores(zookeeper: str) -> Iterator[list[ZooKeeperMetadataStore]]:
    opened: list[ZooKeeperMetadataStore] = []
    for node_id in (0, 1):
        store = ZooKeeperMetadataStore(zookeeper, node_id=node_id, session_timeout_ms=4000)
        store.register_broker(BrokerInfo(node_id, "127.0.0.1", 9092 + node_id, rack=None))
        opened.append(store)
    yield opened
    for store in opened:
        store.close()


def znode(zk: KazooClient, path: str) -> Any:
    return json.loads(zk.get(path)[0])


def test_znodes_use_kafkas_layout(stores, zk):
    a, _ = stores
    state = a.create_topic("orders", 4, 2, {"retention.ms": "1000"})
    assert znode(zk, "/cluster/id") == {"version": "1", "id": a.cluster_id}
    broker = znode(zk, "/brokers/ids/0")
    assert (broker["host"], broker["port"], broker["endpoints"]) == (
        "127.0.0.1",
        9092,
        ["PLAINTEXT://127.0.0.1:9092"],
    )
    assert zk.exists("/brokers/ids/0").ephemeralOwner != 0
    controller = znode(zk, "/controller")
    assert controller["version"] == 1
    assert controller["brokerid"] == 0
    assert int(zk.get("/controller_epoch")[0]) >= 1
    topic = znode(zk, "/brokers/topics/orders")
    assert topic["version"] == 2
    assert decode_topic_id(topic["topic_id"]) == state.topic_id
    assert {int(p): tuple(r) for p, r in topic["partitions"].items()} == {
        p: s.replicas for p, s in state.partitions.items()
    }
    assert sorted(zk.get_children("/brokers/topics/orders/partitions"), key=int) == ["0", "1", "2", "3"]
    partition_state = znode(zk, "/brokers/topics/orders/partitions/0/state")
    assert set(partition_state) == {"controller_epoch", "leader", "version", "leader_epoch", "isr"}
    assert partition_state["leader"] == topic["partitions"]["0"][0]
    assert partition_state["isr"] == topic["partitions"]["0"]
    assert znode(zk, "/config/topics/orders") == {"version": 1, "config": {"retention.ms": "1000"}}
    a.allocate_producer_ids(1000)
    assert znode(zk, "/latest_producer_id_block") == {
        "version": 1,
        "broker": 0,
        "block_start": "0",
        "block_end": "999",
    }


def test_replicas_spread_over_live_brokers(stores):
    a, _ = stores
    state = a.create_topic("spread", 4, 2, {})
    for p in state.partitions.values():
        assert sorted(p.replicas) == [0, 1]
    assert sorted(p.leader for p in state.partitions.values()) == [0, 0, 1, 1]


def test_assign_replicas_never_repeats_a_broker_in_a_partition():
    for n in range(1, 6):
        for rf in range(1, n + 1):
            for start in range(n):
                assignment = assign_replicas(list(range(n)), 12, rf, start_index=start, replica_shift=start)
                assert all(len(set(r)) == rf for r in assignment.values())
                leaders = [r[0] for r in assignment.values()]
                assert max(leaders.count(b) for b in range(n)) - min(leaders.count(b) for b in range(n)) <= 1


def test_one_controller_and_both_brokers_live(stores):
    a, b = stores
    assert a.controller_id == b.controller_id == 0
    wait_until(lambda: [x.node_id for x in a.live_brokers()] == [0, 1])
    assert [x.node_id for x in b.live_brokers()] == [0, 1]


def test_other_store_sees_changes_through_watches(stores):
    a, b = stores
    created = a.create_topic("shared", 2, 1, {"retention.ms": "1000"})
    assert wait_until(lambda: b.topic("shared")) == created
    a.add_partitions("shared", 3)
    wait_until(lambda: len(b.topic("shared").partitions) == 3)
    a.set_topic_configs("shared", {"retention.ms": "2000"})
    wait_until(lambda: b.topic("shared").configs.get("retention.ms") == "2000")
    a.set_broker_configs({"log.retention.ms": "7"})
    wait_until(lambda: dict(b.broker_configs()) == {"log.retention.ms": "7"})
    a.delete_topic("shared")
    wait_until(lambda: b.topic("shared") is None)


def test_controller_moves_when_it_leaves(stores):
    a, b = stores
    a.close()
    wait_until(lambda: b.controller_id == 1)
    wait_until(lambda: [x.node_id for x in b.live_brokers()] == [1])


async def test_listeners_run_on_the_event_loop(stores):
    a, b = stores
    calls: list[int] = []
    heard = asyncio.Event()

    def listener() -> None:
        calls.append(threading.get_ident())
        heard.set()  # asyncio.Event is not thread-safe: this only works on the loop's own thread

    b.add_listener(listener)
    a.create_topic("heard", 1, 1, {})
    await asyncio.wait_for(heard.wait(), 10)
    assert set(calls) == {threading.get_ident()}
    assert b.topic("heard") is not None


def test_producer_id_blocks_never_overlap_between_brokers(stores):
    firsts: list[int] = []
    lock = threading.Lock()

    def allocate(store: ZooKeeperMetadataStore) -> None:
        for _ in range(20):
            first = store.allocate_producer_ids(100)
            with lock:
                firsts.append(first)

    threads = [threading.Thread(target=allocate, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(firsts) == list(range(0, 4000, 100))


def test_broker_registers_again_after_session_expiry(zookeeper, zk):
    store = ZooKeeperMetadataStore(zookeeper, node_id=3, session_timeout_ms=4000)
    try:
        store.register_broker(BrokerInfo(3, "127.0.0.1", 9095))
        old_owner = zk.exists("/brokers/ids/3").ephemeralOwner
        # ZooKeeper's way to expire a session from outside: another client takes it over and closes it
        session_id, password = store._zk.client_id
        thief = KazooClient(hosts=zookeeper, client_id=(session_id, password))
        thief.start(timeout=10)
        thief.stop()
        thief.close()
        wait_until(
            lambda: (stat := zk.exists("/brokers/ids/3")) is not None and stat.ephemeralOwner != old_owner
        )
        wait_until(lambda: zk.exists("/controller") is not None)  # re-election follows re-registration
        assert json.loads(zk.get("/controller")[0])["brokerid"] == 3
        store.create_topic("after-expiry", 1, 1, {})
        assert store.topic("after-expiry") is not None
    finally:
        store.close()


def test_a_watch_refresh_that_zookeeper_fails_is_redone_until_the_image_has_the_change(
    stores, zk, monkeypatch
):
    """kazoo re-arms a DataWatch and records the version before it calls back, and never calls back again for
    that version: a callback whose reads hit ConnectionLoss (ZooKeeper paused, link cut) must be redone, or the
    image keeps the old partition state for good (chaos runs saw exactly that traceback)."""
    a, _ = stores
    a.create_topic("watched", 1, 2, {})
    path = "/brokers/topics/watched/partitions/0/state"
    real_get = a._zk.get
    failed = threading.Event()

    def get_failing_once(znode_path: str, watch: Any = None) -> Any:
        # the recipe's own read passes its watcher (and kazoo retries it); the callback's read of the new
        # state does not: that one fails, once, as it does when the connection drops mid-callback
        if znode_path == path and watch is None and not failed.is_set():
            failed.set()
            raise ConnectionLoss()
        return real_get(znode_path, watch)

    monkeypatch.setattr(a._zk, "get", get_failing_once)
    doc = znode(zk, path)
    doc["leader_epoch"] += 1
    zk.set(path, json.dumps(doc).encode())
    wait_until(failed.is_set)
    wait_until(lambda: a.topic("watched").partitions[0].leader_epoch == doc["leader_epoch"], 20)
    assert a._cache.catch_up.pending == []


def test_a_burst_of_partition_state_changes_is_read_once_each_and_leaves_other_watches_on_time(stores, zk):
    """A failover rewrites the state znode of every partition a dead broker led or followed. Each change is
    applied alone, from the watch's own read: re-reading the whole topic for each of them (n x n reads on kazoo's
    one callback thread) left a broker blind to every other change for minutes after a 600-partition failover."""
    a, b = stores
    n = 300
    a.create_topic("wide", n, 2, {})
    wait_until(
        lambda: (t := b.topic("wide")) is not None and all(p.leader >= 0 for p in t.partitions.values()), 30
    )
    reads = 0
    real_get = b._zk.get

    def counted_get(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        return real_get(*args, **kwargs)

    b._zk.get = counted_get  # type: ignore[method-assign]
    shrunk: dict[int, int] = {}  # partition -> its state znode's version after the change
    for p in range(n):  # what the controller writes when the other replica dies: the ISR shrinks
        path = f"/brokers/topics/wide/partitions/{p}/state"
        state = json.loads(zk.get(path)[0])
        state["isr"] = [state["leader"]]
        shrunk[p] = zk.set(path, json.dumps(state).encode()).version
    a.create_topic("probe", 1, 2, {})
    wait_until(lambda: b.topic("probe") is not None, 10)  # another watch, behind the burst
    wait_until(lambda: all(len(p.isr) == 1 for p in b.topic("wide").partitions.values()), 10)
    assert reads < 3 * n  # a read or two per change (was n per change)
    assert {p: b._cache.state_version("wide", p)[0] for p in range(n)} == shrunk
    # the versions the image holds are current: b's own ISR change wins its compare-and-set
    led = next(p for p in b.topic("wide").partitions.values() if p.leader == 1)
    assert b.update_isr("wide", led.partition, led.leader_epoch, (1, 0)) is True
    assert json.loads(zk.get(f"/brokers/topics/wide/partitions/{led.partition}/state")[0])["isr"] == [1, 0]
