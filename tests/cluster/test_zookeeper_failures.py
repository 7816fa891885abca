"""Brokers and ZooKeeper failing under load (issue 10, scenarios (i) and (d), and controlled shutdown).

Each test runs three real brokers and real confluent-kafka clients; an idempotent acks=all producer writes
numbered values the whole time, and at the end every partition must hold exactly the acknowledged values, in
the order they were acknowledged: nothing lost, nothing duplicated.
"""

import contextlib
import itertools
import json
import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

from brook.testing import BrookProcess, ZooKeeperProcess
from tests.cluster.brokers import brook_on
from tests.cluster.faults import controller_of, fault_tolerant_producer
from tests.integration.helpers import wait_until

pytestmark = [pytest.mark.zookeeper, pytest.mark.slow]

SESSION_TIMEOUT_MS = 6000
PARTITIONS = 3


def cluster_broker(zookeeper: str, data_dir: Path, node_id: int) -> BrookProcess:
    return brook_on(
        zookeeper,
        data_dir,
        node_id,
        **{
            "zookeeper.session.timeout.ms": str(SESSION_TIMEOUT_MS),
            "replica.lag.time.max.ms": "5000",
            "offsets.topic.replication.factor": "1",
        },
    )


class LoadProducer:
    """An idempotent acks=all producer on its own thread, writing b"<n>" to partition n % PARTITIONS."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.acked: dict[int, list[tuple[int, bytes]]] = {p: [] for p in range(PARTITIONS)}
        self.errors: list[str] = []
        self.ack_times: list[float] = []
        self._stop = threading.Event()
        self._producer = fault_tolerant_producer(bootstrap)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "LoadProducer":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(str(err))
        else:
            self.acked[msg.partition()].append((msg.offset(), msg.value()))
            self.ack_times.append(time.monotonic())

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            try:
                self._producer.produce(
                    self.topic, b"%d" % n, partition=n % PARTITIONS, on_delivery=self._on_delivery
                )
                n += 1
            except BufferError:
                pass
            self._producer.poll(0.002)

    def acked_count(self) -> int:
        return sum(len(v) for v in self.acked.values())

    def stop(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            assert self._producer.flush(150) == 0, "producer did not flush"

    def longest_gap_s(self) -> float:
        times = sorted(self.ack_times)
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def read_partition(bootstrap: str, topic: str, partition: int, count: int) -> list[tuple[int, bytes]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "check", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, partition, 0)])
    got: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + 60
    try:
        while len(got) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got.append((msg.offset(), msg.value()))
        end = time.monotonic() + 1.0
        while time.monotonic() < end:  # anything past the acknowledged records is a duplicate
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                got.append((msg.offset(), msg.value()))
    finally:
        consumer.close()
    return got


def assert_exactly_acked(bootstrap: str, load: LoadProducer) -> None:
    # issue 10's bound on the longest time without any acknowledgement
    gap_s = load.longest_gap_s()
    logging.getLogger(__name__).info("acked=%d longest_gap_s=%.2f", load.acked_count(), gap_s)
    assert gap_s <= SESSION_TIMEOUT_MS / 1000 + 5
    for p in range(PARTITIONS):
        acked = load.acked[p]
        got = read_partition(bootstrap, load.topic, p, len(acked))
        assert len({v for _, v in got}) == len(got), f"partition {p}: duplicated values"
        assert [v for _, v in got] == [v for _, v in acked], f"partition {p}: log differs from the acks"
        # a retry answered DUPLICATE_SEQUENCE_NUMBER is acknowledged without an offset (librdkafka)
        offsets = [(o, v) for o, v in acked if o is not None and o >= 0]
        known = set(offsets)
        assert [(o, v) for o, v in got if (o, v) in known] == offsets


def state_of(zk: KazooClient, topic: str, partition: int) -> dict:
    return json.loads(zk.get(f"/brokers/topics/{topic}/partitions/{partition}/state")[0])


def full_isr(zk: KazooClient, topic: str) -> bool:
    return all(len(state_of(zk, topic, p)["isr"]) == 3 for p in range(PARTITIONS))


@pytest.fixture
def three(zookeeper: str, tmp_path: Path) -> Iterator[list[BrookProcess]]:
    brokers = [cluster_broker(zookeeper, tmp_path / f"b{i}", i) for i in range(3)]
    for b in brokers:
        b.start()
    yield brokers
    for b in brokers:
        b.kill()


def create_topic(brokers: list[BrookProcess], zk: KazooClient, name: str) -> None:
    wait_until(lambda: len(zk.get_children("/brokers/ids")) == 3)
    admin = AdminClient({"bootstrap.servers": ",".join(b.bootstrap for b in brokers)})
    admin.create_topics([NewTopic(name, PARTITIONS, 3, config={"min.insync.replicas": "2"})])[name].result(30)
    wait_until(lambda: full_isr(zk, name), timeout_s=30)


def test_broker_sigkilled_and_restarted_within_its_session_timeout_registers_and_rejoins(three, zk):
    """Scenario (i): restarted before ZooKeeper expired its old session, the broker waits it out (never exits),
    registers, rejoins the ISR; every acknowledged record is there exactly once. It never leads in an epoch its
    previous run led in: that run's followers may lack its tail, so acks computed there could be for records
    no follower has (a chaos run lost 6 acknowledged records that way)."""
    brokers = three
    create_topic(brokers, zk, "fast-restart")
    bootstrap = ",".join(b.bootstrap for b in brokers)
    with LoadProducer(bootstrap, "fast-restart") as load:
        wait_until(lambda: load.acked_count() >= 300, timeout_s=30)
        victim = state_of(zk, "fast-restart", 0)["leader"]
        led = {
            p: state["leader_epoch"]
            for p in range(PARTITIONS)
            if (state := state_of(zk, "fast-restart", p))["leader"] == victim
        }
        old_owner = zk.exists(f"/brokers/ids/{victim}").ephemeralOwner
        brokers[victim].kill()
        brokers[victim].start()  # at once: its old session is still alive in ZooKeeper
        assert "still registered by zookeeper session" in brokers[victim].log_text()
        stat = zk.exists(f"/brokers/ids/{victim}")
        assert stat is not None
        assert stat.ephemeralOwner != old_owner
        wait_until(lambda: full_isr(zk, "fast-restart"), timeout_s=60)
        assert brokers[victim].process.poll() is None  # still running: it never exited
        for p, old_epoch in led.items():
            assert state_of(zk, "fast-restart", p)["leader_epoch"] > old_epoch
            epochs_led = re.findall(
                rf"became leader tp=fast-restart-{p} epoch=(\d+)", brokers[victim].log_text()
            )
            assert all(int(epoch) > old_epoch for epoch in epochs_led), (p, old_epoch, epochs_led)
        acked_before = load.acked_count()
        wait_until(lambda: load.acked_count() >= acked_before + 300, timeout_s=30)
    assert load.errors == []
    assert_exactly_acked(bootstrap, load)


def test_rolling_sigterm_restart_moves_leadership_first_and_loses_nothing(three, zk):
    brokers = three
    create_topic(brokers, zk, "rolling")
    bootstrap = ",".join(b.bootstrap for b in brokers)
    with LoadProducer(bootstrap, "rolling") as load:
        for i, broker in enumerate(brokers):
            wait_until(lambda i=i: load.acked_count() >= 200 * (i + 1), timeout_s=60)
            led = [p for p in range(PARTITIONS) if state_of(zk, "rolling", p)["leader"] == i]
            assert broker.stop() == 0, broker.log_text()[-6000:]
            assert "controlled shutdown moved every leadership" in broker.log_text()
            for p in led:  # moved while it was still up: to another ISR member, which it left
                state = state_of(zk, "rolling", p)
                assert state["leader"] not in (i, -1)
                assert i not in state["isr"]
            broker.start()
            wait_until(lambda: full_isr(zk, "rolling"), timeout_s=60)
        acked_before = load.acked_count()
        wait_until(lambda: load.acked_count() >= acked_before + 200, timeout_s=30)
    assert load.errors == []
    assert_exactly_acked(bootstrap, load)


def test_zookeeper_paused_past_the_session_timeout_then_restarted_under_load(tmp_path):
    """Scenario (d), second half: every session expires while ZooKeeper is stopped (SIGSTOP); then ZooKeeper
    restarts under load. No broker exits, nothing acknowledged is lost."""
    with ZooKeeperProcess(data_dir=tmp_path / "zk") as server:
        zk = KazooClient(hosts=server.connect)
        zk.start(timeout=10)
        # Each broker reaches ZooKeeper through a link the test can cut: a client that reconnects the moment
        # ZooKeeper resumes could revalidate its session before the server's expiry pass runs (ZooKeeper only
        # refuses a session already marked closing), so the links stay cut until ZooKeeper has expired them.
        links = [ZooKeeperLink(server.port) for _ in range(3)]
        brokers = [cluster_broker(f"127.0.0.1:{links[i].port}", tmp_path / f"b{i}", i) for i in range(3)]
        try:
            for b in brokers:
                b.start()
            create_topic(brokers, zk, "zk-outage")
            bootstrap = ",".join(b.bootstrap for b in brokers)
            with LoadProducer(bootstrap, "zk-outage") as load:
                wait_until(lambda: load.acked_count() >= 300, timeout_s=30)
                assert server.process is not None
                owners = {i: zk.exists(f"/brokers/ids/{i}").ephemeralOwner for i in range(3)}
                os.kill(server.process.pid, signal.SIGSTOP)
                paused_at = load.acked_count()
                time.sleep(SESSION_TIMEOUT_MS / 1000 + 3)
                during = load.acked_count()
                # produce needs no ZooKeeper write: it went on while ZooKeeper was stopped
                assert during >= paused_at + 300
                for link in links:
                    link.cut()
                os.kill(server.process.pid, signal.SIGCONT)
                # every session was past its timeout: ZooKeeper expires them and drops the registrations
                wait_until(
                    lambda: all(
                        (s := zk.exists(f"/brokers/ids/{i}")) is None or s.ephemeralOwner != owners[i]
                        for i in range(3)
                    ),
                    timeout_s=60,
                )
                for link in links:
                    link.heal()

                # every broker registers again, under a new session
                def registered_anew() -> bool:
                    stats = [zk.exists(f"/brokers/ids/{i}") for i in range(3)]
                    return all(s is not None and s.ephemeralOwner != owners[i] for i, s in enumerate(stats))

                wait_until(registered_anew, timeout_s=60)
                wait_until(lambda: load.acked_count() >= during + 300, timeout_s=60)
                server.stop()  # ZooKeeper restarts under load
                time.sleep(1.0)
                server.start()
                wait_until(lambda: registered_count(zk) == 3, timeout_s=60)
                after_restart = load.acked_count()
                wait_until(lambda: load.acked_count() >= after_restart + 300, timeout_s=60)
                wait_until(lambda: full_isr(zk, "zk-outage"), timeout_s=60)
            assert [b.process.poll() for b in brokers] == [None, None, None]  # nobody exited
            assert load.errors == []
            assert_exactly_acked(bootstrap, load)
        finally:
            for b in brokers:
                b.kill()
            for link in links:
                link.close()
            zk.stop()
            zk.close()


def registered_count(zk: KazooClient) -> int:
    """Brokers registered, as the test's own client sees them; -1 while that client's session is being
    replaced (a ZooKeeper restart on a loaded machine can outlast it, and kazoo then opens a new one)."""
    try:
        return len(zk.get_children("/brokers/ids"))
    except KazooException:
        return -1


class ZooKeeperLink:
    """A TCP proxy between one broker and ZooKeeper that the test can cut (connections dropped, new ones
    refused) and heal, to cut that broker alone off from ZooKeeper."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._cut:
                    client.close()
                    continue
                try:
                    upstream = socket.create_connection(("127.0.0.1", self.target_port))
                except OSError:
                    client.close()
                    continue
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def heal(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self.cut()
        self._listener.close()


def test_broker_cut_off_from_zookeeper_past_its_session_timeout_while_producing(zookeeper, zk, tmp_path):
    """Scenario (d), first half: the broker cut off from ZooKeeper past its session timeout while producing
    loses its session (its leaderships move), then comes back under a new session."""
    zk_port = int(zookeeper.split("/")[0].split(":")[1])
    chroot = zookeeper.split("/", 1)[1]
    link = ZooKeeperLink(zk_port)
    brokers = [
        cluster_broker(f"127.0.0.1:{link.port}/{chroot}" if i == 2 else zookeeper, tmp_path / f"b{i}", i)
        for i in range(3)
    ]
    try:
        for b in brokers:
            b.start()
        create_topic(brokers, zk, "cut-off")
        bootstrap = ",".join(b.bootstrap for b in brokers)
        with LoadProducer(bootstrap, "cut-off") as load:
            wait_until(lambda: load.acked_count() >= 300, timeout_s=30)
            owner = zk.exists("/brokers/ids/2").ephemeralOwner
            link.cut()
            wait_until(lambda: zk.exists("/brokers/ids/2") is None, timeout_s=SESSION_TIMEOUT_MS / 1000 + 20)
            # the controller moved broker 2's leaderships and took it out of every ISR
            wait_until(
                lambda: all(
                    (s := state_of(zk, "cut-off", p))["leader"] != 2 and 2 not in s["isr"]
                    for p in range(PARTITIONS)
                ),
                timeout_s=20,
            )
            cut_acked = load.acked_count()
            wait_until(lambda: load.acked_count() >= cut_acked + 300, timeout_s=60)  # the others carry on
            link.heal()
            wait_until(
                lambda: (s := zk.exists("/brokers/ids/2")) is not None and s.ephemeralOwner != owner,
                timeout_s=60,
            )
            wait_until(lambda: full_isr(zk, "cut-off"), timeout_s=60)
            healed = load.acked_count()
            wait_until(lambda: load.acked_count() >= healed + 300, timeout_s=30)
        assert brokers[2].process is not None
        assert brokers[2].process.poll() is None  # it never exited
        assert load.errors == []
        assert_exactly_acked(bootstrap, load)
    finally:
        for b in brokers:
            b.kill()
        link.close()


def test_killing_the_broker_that_is_both_controller_and_leader(three, zk):
    """Scenario (g): a new controller is elected in a new epoch and moves the dead broker's leaderships."""
    brokers = three
    create_topic(brokers, zk, "headless")
    controller = json.loads(zk.get("/controller")[0])["brokerid"]
    epoch = int(zk.get("/controller_epoch")[0])
    led = [p for p in range(PARTITIONS) if state_of(zk, "headless", p)["leader"] == controller]
    assert led  # three partitions spread over three brokers: each leads one
    bootstrap = ",".join(b.bootstrap for b in brokers)
    with LoadProducer(bootstrap, "headless") as load:
        wait_until(lambda: load.acked_count() >= 300, timeout_s=30)
        brokers[controller].kill()
        wait_until(lambda: controller_of(zk) not in (None, controller), timeout_s=30)
        assert int(zk.get("/controller_epoch")[0]) == epoch + 1
        wait_until(
            lambda: all(state_of(zk, "headless", p)["leader"] not in (controller, -1) for p in led),
            timeout_s=30,
        )
        moved = load.acked_count()
        wait_until(lambda: load.acked_count() >= moved + 300, timeout_s=60)
        brokers[controller].start()
        wait_until(lambda: full_isr(zk, "headless"), timeout_s=60)
    assert load.errors == []
    assert_exactly_acked(bootstrap, load)
