"""ZooKeeperMetadataStore's controller and registration rules (issue 10: items 7, 9, 10, 3), on a real ZooKeeper."""

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient

from brook.metadata.api import BrokerInfo
from brook.metadata.zookeeper import ZooKeeperMetadataStore
from tests.integration.helpers import wait_until

pytestmark = pytest.mark.zookeeper


def state_of(zk: KazooClient, topic: str, partition: int) -> dict[str, Any]:
    return json.loads(zk.get(f"/brokers/topics/{topic}/partitions/{partition}/state")[0])


@pytest.fixture
def stores(zookeeper: str) -> Iterator[list[ZooKeeperMetadataStore]]:
    """Broker 0 registers first and is the controller; broker 1 is not."""
    opened: list[ZooKeeperMetadataStore] = []
    for node_id in (0, 1):
        store = ZooKeeperMetadataStore(zookeeper, node_id=node_id, session_timeout_ms=4000)
        store.register_broker(BrokerInfo(node_id, "127.0.0.1", 9092 + node_id))
        opened.append(store)
    wait_until(lambda: all(len(s.live_brokers()) == 2 for s in opened))
    yield opened
    for store in opened:
        store.close()


def test_registration_waits_for_a_previous_sessions_znode_to_go(zookeeper, zk):
    """A broker restarted before its old session expired: it waits (never raises) and registers once it is gone."""
    stale = KazooClient(hosts=zookeeper)
    stale.start(timeout=10)
    stale.create("/brokers/ids/7", b'{"host":"127.0.0.1","port":1}', ephemeral=True, makepath=True)
    store = ZooKeeperMetadataStore(zookeeper, node_id=7, session_timeout_ms=4000)
    errors: list[BaseException] = []

    def register() -> None:
        try:
            store.register_broker(BrokerInfo(7, "127.0.0.1", 9099))
        except Exception as exc:  # noqa: BLE001 - the old code raised "already registered by another session"
            errors.append(exc)

    registering = threading.Thread(target=register)
    try:
        registering.start()
        time.sleep(1.5)
        assert registering.is_alive(), "registration returned while the stale znode was still there"
        assert errors == []
        assert zk.exists("/brokers/ids/7").ephemeralOwner == stale.client_id[0]
        stale.stop()  # the old session ends: ZooKeeper drops its znode
        stale.close()
        registering.join(timeout=15)
        assert not registering.is_alive()
        assert errors == []
        stat = zk.exists("/brokers/ids/7")
        assert stat is not None
        assert stat.ephemeralOwner == store._zk.client_id[0]
        assert json.loads(zk.get("/brokers/ids/7")[0])["port"] == 9099
    finally:
        store.close()


def test_an_isr_change_from_a_stale_view_loses_the_compare_and_set(stores, zk):
    a, _ = stores
    a.create_topic("cas", 1, 2, {})
    state = state_of(zk, "cas", 0)
    leader = next(s for s in stores if s._node_id == state["leader"])
    follower = 1 - state["leader"]
    # someone else (the controller) writes the state; the leader's view is then stale
    old_data, stat = zk.get("/brokers/topics/cas/partitions/0/state")
    zk.set("/brokers/topics/cas/partitions/0/state", json.dumps({**state, "controller_epoch": 9}).encode())
    wait_until(lambda: leader._cache.state_version("cas", 0) == (stat.version + 1, 9))
    leader._cache._state_reads["cas"][0] = (stat.mzxid, old_data, stat)  # the stale view: the read before
    assert leader.update_isr("cas", 0, state["leader_epoch"], (state["leader"],)) is False
    assert sorted(state_of(zk, "cas", 0)["isr"]) == sorted([state["leader"], follower])  # nothing written
    # refreshed by the lost attempt: the next proposal is made from the current version and wins
    assert leader.update_isr("cas", 0, state["leader_epoch"], (state["leader"],)) is True
    assert state_of(zk, "cas", 0)["isr"] == [state["leader"]]
    assert state_of(zk, "cas", 0)["controller_epoch"] == 9


def test_a_controller_whose_epoch_moved_on_writes_nothing_and_resigns(stores, zk):
    a, b = stores
    assert a.controller_id == 0
    assert a.controller_epoch >= 1
    a.create_topic("fenced", 1, 2, {})
    before = state_of(zk, "fenced", 0)
    epoch, _ = zk.get("/controller_epoch")
    zk.set("/controller_epoch", str(int(epoch) + 1).encode())  # a newer controller was elected elsewhere
    b.close()  # broker 1 dies: the old controller would drop it from the ISR (and maybe elect)
    wait_until(lambda: a.controller_epoch == 0)  # it found out at its first write, and resigned
    time.sleep(1.0)
    assert state_of(zk, "fenced", 0) == before


def _led_by(store: ZooKeeperMetadataStore, name: str, node_id: int) -> Any:
    topic = store.topic(name)
    return next((p for p in topic.partitions.values() if p.leader == node_id), None) if topic else None


def test_without_unclean_election_a_partition_waits_offline_for_its_isr(stores, zk):
    a, b = stores
    a.create_topic("clean", 2, 2, {})
    a.create_topic("unclean", 2, 2, {"unclean.leader.election.enable": "true"})
    for name in ("clean", "unclean"):
        # b's image follows the topic's creation on a a moment later (its watches)
        p = wait_until(lambda name=name: _led_by(b, name, 1))
        wait_until(lambda name=name, p=p: b.update_isr(name, p.partition, p.leader_epoch, (1,)))
    led_by_1 = {
        name: next(p for p in b.topic(name).partitions.values() if p.leader == 1)
        for name in ("clean", "unclean")
    }
    b.close()
    clean = wait_until(
        lambda: (s := state_of(zk, "clean", led_by_1["clean"].partition))["leader"] == -1 and s
    )
    assert clean["isr"] == [1]
    assert clean["leader_epoch"] == led_by_1["clean"].leader_epoch + 1
    unclean = wait_until(
        lambda: (s := state_of(zk, "unclean", led_by_1["unclean"].partition))["leader"] == 0 and s
    )
    assert unclean["isr"] == [0]
    assert unclean["leader_epoch"] == led_by_1["unclean"].leader_epoch + 1


def test_deletion_goes_through_admin_delete_topics_and_the_controller(stores, zk):
    a, b = stores
    b.create_topic("doomed", 2, 2, {"retention.ms": "5"})
    created = threading.Event()
    # a one-shot watch on the request znode fires on its creation even if the controller removes it before
    # the client looks (a ChildrenWatch re-reads the children, and may find the request gone already)
    assert zk.exists("/admin/delete_topics/doomed", watch=lambda event: created.set()) is None
    deleted = b.delete_topic("doomed")  # broker 1 asks; broker 0, the controller, deletes
    assert deleted.name == "doomed"
    assert created.wait(10)
    assert zk.exists("/brokers/topics/doomed") is None
    assert zk.exists("/config/topics/doomed") is None
    assert zk.get_children("/admin/delete_topics") == []
    wait_until(lambda: a.topic("doomed") is None)
    assert b.topic("doomed") is None


def test_deleting_the_controller_znode_elects_again_in_a_new_epoch(stores, zk):
    """Kafka operators force a controller election by deleting /controller; the old one must stop acting."""
    epoch = int(zk.get("/controller_epoch")[0])
    assert [s.controller_epoch for s in stores] == [epoch, 0]
    zk.delete("/controller")
    wait_until(
        lambda: zk.exists("/controller") is not None and int(zk.get("/controller_epoch")[0]) == epoch + 1
    )
    new = json.loads(zk.get("/controller")[0])["brokerid"]
    wait_until(lambda: sorted(s.controller_epoch for s in stores) == [0, epoch + 1])
    assert stores[new].controller_epoch == epoch + 1
    wait_until(lambda: all(s.controller_id == new for s in stores))
