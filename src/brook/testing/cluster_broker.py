"""One broker of a BrookCluster: a BrookProcess with a fixed node id, a listener port outside the ephemeral
range, an advertised proxy address, and its output kept in a file across restarts."""

from __future__ import annotations

import contextlib
import random
import signal
import socket
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from brook.testing.broker_process import BrookProcess

__all__ = ["PORT_TAKEN", "BrokerExit", "ClusterBroker", "TeeLines", "endpoint_of", "free_port"]

_READY = " ready on "  # `brook serve`'s line once it serves clients
PORT_TAKEN = "the address is already in use"


def endpoint_of(node_id: int) -> str:
    return f"broker-{node_id}"


def _ephemeral_ports() -> range:
    try:
        low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port(rng: random.Random | None = None) -> int:
    """A free loopback port outside the ephemeral range, so that no outgoing connection (of this or any
    process) takes it while its broker is down between a kill and a restart."""
    ephemeral = _ephemeral_ports()
    rng = rng or random.Random()
    for _ in range(200):
        port = rng.randrange(10_000, 65_000)
        if port in ephemeral:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port outside the ephemeral range")


class TeeLines(deque[str]):
    """The last lines of a broker's output in memory, and every line in a file (restarts append)."""

    def __init__(self, path: Path, maxlen: int = 2000) -> None:
        super().__init__(maxlen=maxlen)
        self.path = path
        self._file = path.open("a", buffering=1)

    def append(self, line: str) -> None:
        super().append(line)
        with contextlib.suppress(ValueError):  # closed
            self._file.write(line + "\n")

    def clear(self) -> None:
        super().clear()
        with contextlib.suppress(ValueError):
            self._file.write(f"----- start {time.strftime('%H:%M:%S')} -----\n")

    def close(self) -> None:
        self._file.close()


class ClusterBroker(BrookProcess):
    """A BrookProcess wired into a BrookCluster; `bootstrap` is its advertised (proxied) address."""

    def __init__(
        self,
        node_id: int,
        data_dir: Path,
        overrides: dict[str, str],
        proxy_port: int,
        port: int,
        startup_timeout_s: float = 60.0,
    ) -> None:
        super().__init__(
            data_dir=data_dir, overrides=overrides, port=port, startup_timeout_s=startup_timeout_s
        )
        self.node_id = node_id
        self.proxy_port = proxy_port
        self.output = TeeLines(data_dir.parent / f"broker-{node_id}.log")

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.proxy_port}"

    def start(self) -> ClusterBroker:
        try:
            super().start()
        except RuntimeError:
            raise RuntimeError(self._startup_failure() + "\n" + "\n".join(self.output)) from None
        # the output ending (the process exiting) also wakes BrookProcess.start: only a ready line counts
        if not any(_READY in line for line in list(self.output)):
            self.kill()
            raise RuntimeError(self._startup_failure() + "\n" + "\n".join(self.output))
        return self

    def _startup_failure(self) -> str:
        code = self.process.returncode if self.process is not None else None
        if code == -signal.SIGKILL:
            return f"broker {self.node_id}: no ready line within {self.startup_timeout_s:.0f}s (killed)"
        return f"broker {self.node_id}: exited during startup with code {code}"

    @property
    def log_path(self) -> Path:
        assert isinstance(self.output, TeeLines)
        return self.output.path

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close_log(self) -> None:
        assert isinstance(self.output, TeeLines)
        self.output.close()


@dataclass(frozen=True)
class BrokerExit:
    """A broker process that ended without the harness killing or stopping it."""

    node_id: int
    returncode: int | None
    at_s: float  # time.monotonic()
    log_tail: str
    reason: str = "exited while running"
