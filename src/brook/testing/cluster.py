"""A brook cluster for fault-injection tests: N real brokers on one real ZooKeeper, every link through a proxy.

with BrookCluster(3, overrides={"zookeeper.session.timeout.ms": "6000"}) as cluster:
    producer = Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"})
    cluster.kill(cluster.leader("orders", 0))         # SIGKILL
    cluster.partition(1, from_=[2, "zookeeper"])      # cut links, both ways
    cluster.heal()
    assert not cluster.unexpected_exits

Wiring. Broker N listens on a port of its own and advertises a proxy in front of it (`advertised.listeners`),
so clients and the other brokers' replica fetchers reach it through that proxy; its `zookeeper.connect` is a
proxy used by broker N alone. The proxies (FaultNetwork) recognise which broker opened a connection, so
`partition` freezes exactly the links between the named endpoints while clients keep their access.

Secured (`secured=True`, brook.testing.cluster_security): each broker's only listener is SASL_SSL, the brokers
authenticate to each other with SCRAM, ACLs are on; `client_config(user, mechanism)` gives client settings.

Faults: kill (SIGKILL), terminate (SIGTERM, waits for the exit), pause/resume (SIGSTOP/SIGCONT), restart,
partition/heal, and for a ZooKeeper the cluster started itself, pause_zookeeper/resume_zookeeper and
restart_zookeeper. A broker that exits without being told to is recorded in `unexpected_exits`. Each
broker's output is kept in `<data_dir>/broker-N.log` across restarts (and the last lines in `.output`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from kazoo.client import KazooClient

from brook.testing.cluster_broker import PORT_TAKEN, BrokerExit, ClusterBroker, endpoint_of, free_port
from brook.testing.cluster_security import ClusterSecurity
from brook.testing.fault_network import FaultNetwork
from brook.testing.zookeeper import ZooKeeperProcess

__all__ = ["BrokerExit", "BrookCluster", "ClusterBroker"]

ZOOKEEPER = "zookeeper"
_T = TypeVar("_T")
_ZK_CALL_TIMEOUT_S = 5.0
_ZK_READ_RETRY_S = 30.0


def zk_read(call: Callable[..., Any], path: str, *, retry_s: float = _ZK_READ_RETRY_S) -> Any:
    """One read by the harness's own ZooKeeper client (`call`: one of its *_async methods); None if the node is
    missing. A fault that pauses ZooKeeper can expire the harness's session or outlast one call: kazoo opens a
    new session by itself, so a lost session, a lost connection or a timed-out call is tried again until
    `retry_s` has passed, then raised. It is the harness's read, never what a test checks of the brokers."""
    from kazoo.exceptions import ConnectionLoss, NoNodeError, SessionExpiredError
    from kazoo.handlers.threading import KazooTimeoutError

    deadline = time.monotonic() + retry_s
    while True:
        try:
            return call(path).get(timeout=_ZK_CALL_TIMEOUT_S)
        except NoNodeError:
            return None
        except (ConnectionLoss, SessionExpiredError, KazooTimeoutError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


BrokerRef = int | ClusterBroker


class BrookCluster:
    """`size` brokers (node ids 0..size-1) on a ZooKeeper: the `zookeeper` connect string given (e.g. the
    pytest fixture's chroot) or, when None, a ZooKeeperProcess of its own (needed for ZooKeeper faults)."""

    def __init__(
        self,
        size: int = 3,
        *,
        zookeeper: str | None = None,
        data_dir: Path | None = None,
        overrides: Mapping[str, str] | None = None,
        broker_overrides: Mapping[int, Mapping[str, str]] | None = None,
        startup_timeout_s: float = 60.0,
        secured: bool = False,
    ) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="brook-cluster-")) if data_dir is None else data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.zookeeper_process: ZooKeeperProcess | None = None
        if zookeeper is None:
            self.zookeeper_process = ZooKeeperProcess(data_dir=self.data_dir / "zookeeper")
            self._zk_connect = ""
        else:
            self._zk_connect = zookeeper
        self.network = FaultNetwork(sources=self._broker_pids)
        self.brokers: dict[int, ClusterBroker] = {}
        self.unexpected_exits: list[BrokerExit] = []
        self._down: set[int] = set(range(size))  # not running, and the harness knows it
        self._paused: set[int] = set()
        self._lock = threading.Lock()
        self._zk: KazooClient | None = None
        self._monitor: threading.Thread | None = None
        self._stopping = threading.Event()
        self._size = size
        self.security = ClusterSecurity(self.data_dir / "pki") if secured else None
        self._overrides = {
            "offsets.topic.replication.factor": str(min(3, size)),
            **(self.security.overrides if self.security else {}),
            **(overrides or {}),
        }
        self._broker_overrides = broker_overrides or {}
        self._startup_timeout_s = startup_timeout_s

    # ---- lifecycle --------------------------------------------------------------------------------------

    def __enter__(self) -> BrookCluster:
        try:
            self.start()
        except BaseException:
            self.close()  # whatever did start: ZooKeeper, proxies, some brokers
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def zookeeper_connect(self) -> str:
        """The real ZooKeeper's connect string with the cluster's chroot (not through any proxy)."""
        return self._zk_connect

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers.values())

    def client_config(self, user: str = "admin", mechanism: str = "SCRAM-SHA-512") -> dict[str, str]:
        """librdkafka settings for a secured cluster (`bootstrap.servers` included)."""
        if self.security is None:
            return {"bootstrap.servers": self.bootstrap}
        return self.security.client_config(self.bootstrap, user, mechanism)

    def start(self, timeout_s: float = 60.0) -> BrookCluster:
        if self.zookeeper_process is not None:
            self.zookeeper_process.start()
            self._zk_connect = f"{self.zookeeper_process.connect}/brook"
        hosts, slash, chroot = self._zk_connect.partition("/")
        zk_host, _, zk_port = hosts.split(",")[0].rpartition(":")
        if self.security is not None:
            self.security.seed_users(
                self._zk_connect
            )  # the inter-broker user exists before any broker connects
        for node_id in range(self._size):
            proxy_port = self.network.add_proxy(endpoint_of(node_id))
            zk_proxy_port = self.network.add_proxy(
                ZOOKEEPER, upstream=(zk_host, int(zk_port)), source=endpoint_of(node_id)
            )
            port = free_port()
            self.network.set_upstream(proxy_port, ("127.0.0.1", port))
            overrides = {
                **self._overrides,
                "broker.id": str(node_id),
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{proxy_port}",
                **(self.security.listener_overrides(port, proxy_port) if self.security else {}),
                "zookeeper.connect": f"127.0.0.1:{zk_proxy_port}{slash}{chroot}",
                **self._broker_overrides.get(node_id, {}),
            }
            data = self.data_dir / f"broker-{node_id}"
            self.brokers[node_id] = ClusterBroker(
                node_id, data, overrides, proxy_port, port, self._startup_timeout_s
            )
        with ThreadPoolExecutor(self._size) as pool:
            list(pool.map(self.start_broker, list(self.brokers)))
        self.wait_until(
            lambda: len(self.registered_brokers()) == self._size, timeout_s, "all brokers registered"
        )
        self._monitor = threading.Thread(target=self._watch_exits, name="cluster-exits", daemon=True)
        self._monitor.start()
        return self

    def close(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self.network.heal()
        for node_id in list(self._paused):
            self.resume(node_id)
        if self.zookeeper_process is not None and self.zookeeper_process.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.zookeeper_process.process.pid, signal.SIGCONT)
        # One at a time, the controller last, as a rolling stop: each broker hands its leaderships to brokers
        # still up (0.2 s each). Stopped all at once, each waited for replicas that were leaving too, up to
        # controlled shutdown's 15 s of retries (16 s teardowns in the suite).
        controller = None
        with contextlib.suppress(Exception):
            controller = self.controller()
        for broker in sorted(self.brokers.values(), key=lambda b: b.node_id == controller):
            broker.stop(timeout_s=20)
        if self._zk is not None:
            with contextlib.suppress(Exception):
                self._zk.stop()
                self._zk.close()
        self.network.close()
        if self.zookeeper_process is not None:
            self.zookeeper_process.stop()
        for broker in self.brokers.values():
            broker.close_log()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # ---- faults ---------------------------------------------------------------------------------------

    def broker(self, ref: BrokerRef) -> ClusterBroker:
        return ref if isinstance(ref, ClusterBroker) else self.brokers[ref]

    def start_broker(self, ref: BrokerRef) -> ClusterBroker:
        """Start a broker that is down (same data dir and advertised address)."""
        broker = self.broker(ref)
        try:
            for _ in range(3):
                try:
                    broker.start()
                    break
                except RuntimeError:
                    if not any(PORT_TAKEN in line for line in list(broker.output)):
                        raise
                # another process took its listener port: clients only know the proxy, so move the listener
                broker.port = free_port()
                self.network.set_upstream(broker.proxy_port, ("127.0.0.1", broker.port))
            else:
                raise RuntimeError(f"broker {broker.node_id}: no free listener port in 3 attempts")
        except RuntimeError as exc:
            with self._lock:
                self._down.add(broker.node_id)
            code = broker.process.returncode if broker.process is not None else None
            tail = "\n".join(list(broker.output)[-40:])
            reason = str(exc).splitlines()[0].rstrip(":")
            self.unexpected_exits.append(BrokerExit(broker.node_id, code, time.monotonic(), tail, reason))
            raise
        with self._lock:
            self._down.discard(broker.node_id)
        return broker

    def kill(self, ref: BrokerRef) -> None:
        """SIGKILL: the broker dies at once, no shutdown work at all."""
        broker = self.broker(ref)
        self._mark_down(broker)
        broker.kill()
        self._paused.discard(broker.node_id)

    def terminate(self, ref: BrokerRef, timeout_s: float = 60.0) -> int:
        """SIGTERM and wait for the exit (a clean, controlled shutdown); returns the exit code."""
        broker = self.broker(ref)
        self._mark_down(broker)
        if broker.node_id in self._paused:
            self.resume(broker)
        return broker.stop(timeout_s=timeout_s)

    def pause(self, ref: BrokerRef) -> None:
        """SIGSTOP: the process freezes; its sockets stay open and its ZooKeeper session ages."""
        broker = self.broker(ref)
        assert broker.process is not None
        os.kill(broker.process.pid, signal.SIGSTOP)
        self._paused.add(broker.node_id)

    def resume(self, ref: BrokerRef) -> None:
        broker = self.broker(ref)
        if broker.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(broker.process.pid, signal.SIGCONT)
        self._paused.discard(broker.node_id)

    def restart(self, ref: BrokerRef, *, crash: bool = False) -> ClusterBroker:
        """Stop the broker (SIGKILL with crash=True, else SIGTERM) if it runs, then start it again."""
        broker = self.broker(ref)
        if broker.is_running():
            if crash:
                self.kill(broker)
            else:
                self.terminate(broker)
        return self.start_broker(broker)

    def partition(self, ref: BrokerRef, from_: Iterable[BrokerRef | str] | None = None) -> None:
        """Cut the broker's links (both ways) to the given brokers and/or "zookeeper"; by default to all
        other brokers and ZooKeeper. Clients still reach it. Undo with heal()."""
        broker = self.broker(ref)
        targets: list[BrokerRef | str] = list(from_) if from_ is not None else [*self.brokers, ZOOKEEPER]
        for target in targets:
            if isinstance(target, str):
                if target != ZOOKEEPER:
                    raise ValueError(f"partition from brokers or {ZOOKEEPER!r}, not {target!r}")
                other = ZOOKEEPER
            else:
                other = endpoint_of(self.broker(target).node_id)
            if other != endpoint_of(broker.node_id):
                self.network.cut(endpoint_of(broker.node_id), other)

    def heal(self) -> None:
        """Restore every cut link."""
        self.network.heal()

    def pause_zookeeper(self) -> None:
        """SIGSTOP the ZooKeeper server (one the cluster started): sessions time out once it resumes."""
        os.kill(self._own_zookeeper().pid, signal.SIGSTOP)

    def resume_zookeeper(self) -> None:
        os.kill(self._own_zookeeper().pid, signal.SIGCONT)

    def restart_zookeeper(self) -> None:
        """Stop and start the ZooKeeper server on the same port and data dir (sessions survive a quick one)."""
        assert self.zookeeper_process is not None, "the cluster did not start this ZooKeeper"
        self.zookeeper_process.stop()
        self.zookeeper_process.start()

    # ---- what the cluster looks like (read straight from ZooKeeper) -------------------------------------

    @property
    def zk(self) -> KazooClient:
        """A kazoo client in the cluster's chroot, not through any proxy (it waits while ZooKeeper is paused)."""
        if self._zk is None:
            self._zk = KazooClient(hosts=self._zk_connect, timeout=30)
            self._zk.start(timeout=30)
        return self._zk

    def registered_brokers(self) -> list[int]:
        return sorted(int(i) for i in self._zk_call(self.zk.get_children_async, "/brokers/ids") or [])

    def controller(self) -> int | None:
        doc = self._json("/controller")
        return None if doc is None else int(doc["brokerid"])

    def partition_state(self, topic: str, partition: int) -> dict[str, Any] | None:
        """Kafka's /brokers/topics/<t>/partitions/<p>/state: leader, leader_epoch, isr, controller_epoch."""
        return self._json(f"/brokers/topics/{topic}/partitions/{partition}/state")

    def leader(self, topic: str, partition: int) -> int | None:
        state = self.partition_state(topic, partition)
        return None if state is None or state["leader"] < 0 else int(state["leader"])

    def running(self) -> list[int]:
        """Brokers whose process is alive (including one that is starting or paused)."""
        return [n for n, b in self.brokers.items() if b.is_running()]

    def up(self) -> list[int]:
        """Brokers that started (printed their ready line) and have not been stopped or exited since."""
        with self._lock:
            return [n for n, b in self.brokers.items() if n not in self._down and b.is_running()]

    def wait_until(self, predicate: Callable[[], _T], timeout_s: float = 30.0, what: str = "condition") -> _T:
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(Exception):
                value = predicate()
                if value:
                    return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout_s}s")
            time.sleep(0.1)

    # ---- internals -------------------------------------------------------------------------------------

    def _own_zookeeper(self) -> Any:
        if self.zookeeper_process is None or self.zookeeper_process.process is None:
            raise RuntimeError("ZooKeeper faults need a ZooKeeper the cluster started (zookeeper=None)")
        return self.zookeeper_process.process

    def _zk_call(self, call: Callable[..., Any], path: str) -> Any:
        return zk_read(call, path)

    def _json(self, path: str) -> dict[str, Any] | None:
        found = self._zk_call(self.zk.get_async, path)
        if found is None or not found[0]:
            return None
        doc: dict[str, Any] = json.loads(found[0])
        return doc

    def _broker_pids(self) -> dict[int, str]:
        return {
            b.process.pid: endpoint_of(n)
            for n, b in list(self.brokers.items())
            if b.process is not None and b.process.poll() is None
        }

    def _mark_down(self, broker: ClusterBroker) -> None:
        with self._lock:
            self._down.add(broker.node_id)

    def _watch_exits(self) -> None:
        while not self._stopping.wait(0.2):
            for node_id, broker in list(self.brokers.items()):
                process = broker.process
                if process is None or process.poll() is None:
                    continue
                with self._lock:
                    if node_id in self._down:
                        continue
                    self._down.add(node_id)
                time.sleep(0.2)  # let the reader thread take the last lines
                tail = "\n".join(list(broker.output)[-40:])
                self.unexpected_exits.append(BrokerExit(node_id, process.returncode, time.monotonic(), tail))
