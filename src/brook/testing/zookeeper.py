"""Run a real standalone ZooKeeper for tests: free loopback port, temporary data dir, clean teardown.

Uses Debian's `zookeeper` package (`apt-get install zookeeper`, or `make system-deps`) and the `java` on PATH.

with ZooKeeperProcess() as zk:
    store = ZooKeeperMetadataStore(zk.connect, node_id=0)

The pytest plugin exposes it as the `zookeeper` fixture (one server per test session; each test gets its own
chroot, so tests never see each other's znodes) and `zookeeper_server` (the bare process).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from brook.testing.managed_process import ManagedProcess, terminate

__all__ = ["ZooKeeperNotInstalled", "ZooKeeperProcess", "find_zookeeper_classpath"]

_CLASSPATH_CANDIDATES = ("/usr/share/java/zookeeper.jar",)  # Debian: its manifest lists every dependency
_MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"  # standalone when the config lists no peers


class ZooKeeperNotInstalled(RuntimeError):
    pass


def find_zookeeper_classpath() -> str:
    """The server's classpath: $BROOK_ZOOKEEPER_CLASSPATH, else Debian's /usr/share/java/zookeeper.jar."""
    configured = os.environ.get("BROOK_ZOOKEEPER_CLASSPATH")
    if configured:
        return configured
    for candidate in _CLASSPATH_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    raise ZooKeeperNotInstalled(
        "ZooKeeper is not installed: no /usr/share/java/zookeeper.jar. Install it with "
        "`apt-get install -y zookeeper` (or `make system-deps`), or point BROOK_ZOOKEEPER_CLASSPATH "
        "at a ZooKeeper server classpath."
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ZooKeeperProcess(ManagedProcess):
    """A standalone ZooKeeper server in a child JVM, listening on 127.0.0.1 only. Restartable on its data dir."""

    def __init__(self, data_dir: Path | None = None, startup_timeout_s: float = 30.0) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="brook-zk-")) if data_dir is None else data_dir
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0

    @property
    def connect(self) -> str:
        """The `zookeeper.connect` string for this server."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "zookeeper.out"

    def start(self) -> ZooKeeperProcess:
        classpath = find_zookeeper_classpath()
        java = shutil.which("java")
        if java is None:
            raise ZooKeeperNotInstalled("ZooKeeper needs `java` on PATH (Debian: default-jre-headless).")
        if self.port == 0:
            self.port = _free_port()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.data_dir / "zoo.cfg"
        cfg.write_text(
            "\n".join(
                [
                    "tickTime=500",
                    "initLimit=10",
                    "syncLimit=5",
                    f"dataDir={self.data_dir / 'data'}",
                    f"clientPort={self.port}",
                    "clientPortAddress=127.0.0.1",
                    "admin.enableServer=false",
                    "maxClientCnxns=0",
                    "4lw.commands.whitelist=ruok,srvr",
                    # a short session floor lets tests observe ephemeral nodes vanish quickly
                    "minSessionTimeout=1000",
                    "",
                ]
            )
        )
        started = time.monotonic()
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    java,
                    "-Xmx256m",
                    "-XX:+UseSerialGC",
                    "-XX:TieredStopAtLevel=1",
                    "-cp",
                    classpath,
                    _MAIN,
                    str(cfg),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready(started)
        self.startup_s = time.monotonic() - started
        return self

    def _wait_ready(self, started: float) -> None:
        assert self.process is not None
        while time.monotonic() - started < self.startup_timeout_s:
            if self.process.poll() is not None:
                break
            if self.is_ok():
                return
            time.sleep(0.05)
        output = self.log_path.read_text(errors="replace")[-4000:]
        self.stop()
        raise RuntimeError(f"ZooKeeper did not start within {self.startup_timeout_s}s:\n{output}")

    def is_ok(self) -> bool:
        """The `srvr` four-letter command reports a `Mode:` once the server serves sessions (`ruok`
        answers earlier, while the first session would still be dropped)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"srvr")
                reply = b""
                while chunk := s.recv(4096):
                    reply += chunk
                return b"Mode:" in reply
        except OSError:
            return False

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process is None:
            return
        terminate(self.process, timeout_s)
        self.process = None
