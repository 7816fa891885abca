"""Run a real `brook serve` process for tests and scripts: free port, temporary data dir, clean teardown.

with BrookProcess() as broker:
    producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap})
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path

from brook.testing.managed_process import ManagedProcess, terminate

__all__ = ["BrookProcess", "forget_started", "report_on_failure", "started_brokers"]

_READY = re.compile(r"ready on (?P<host>[^:\s]+):(?P<port>\d+)")
_LISTENERS = re.compile(r"listeners (?P<ports>[A-Za-z0-9_=,.-]+)\)")

# Every broker started since the last forget_started(), so a test run can show their output when a test fails.
_STARTED: list[weakref.ref[BrookProcess]] = []


def started_brokers() -> list[BrookProcess]:
    """The brokers started since the last forget_started() that still exist, in start order, each once."""
    seen: list[BrookProcess] = []
    for ref in _STARTED:
        broker = ref()
        if broker is not None and all(broker is not other for other in seen):
            seen.append(broker)
    return seen


def forget_started() -> None:
    _STARTED.clear()


def report_on_failure(broker: BrookProcess) -> None:
    """List a broker started before this test (a module-scoped one) among started_brokers() again."""
    _STARTED.append(weakref.ref(broker))


class BrookProcess(ManagedProcess):
    """A brook broker in a child process. Restartable on the same data dir (SIGTERM or SIGKILL)."""

    def __init__(
        self,
        data_dir: Path | None = None,
        overrides: dict[str, str] | None = None,
        port: int = 0,
        startup_timeout_s: float = 30.0,
        *,
        max_output_lines: int = 2000,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        """preexec_fn runs in the child before brook starts (e.g. to lower RLIMIT_NOFILE)."""
        self._own_dir = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="brook-test-")) if data_dir is None else data_dir
        self.overrides = {"group.initial.rebalance.delay.ms": "0", **(overrides or {})}
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.extra_args: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self.output: deque[str] = deque(maxlen=max_output_lines)
        self.preexec_fn = preexec_fn
        self._reader: threading.Thread | None = None
        self.listener_ports: dict[str, int] = {}  # listener name -> bound port, from the ready line

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def listener_bootstrap(self, name: str) -> str:
        """host:port of a named listener (listeners=SASL_SSL://127.0.0.1:0,... bind free ports)."""
        return f"127.0.0.1:{self.listener_ports[name]}"

    def start(self) -> BrookProcess:
        if self.process is not None:
            if self.process.poll() is None:
                raise RuntimeError("brook is already running; stop() or kill() it first")
            self._join(self.process, self._reader)
        cmd = [sys.executable, "-m", "brook", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if "log.dirs" in self.overrides:
            cmd += self.extra_args  # several log dirs, given as log.dirs; data_dir is the first
        else:
            cmd += ["--data-dir", str(self.data_dir), *self.extra_args]
        for key, value in self.overrides.items():
            cmd += ["--override", f"{key}={value}"]
        self.output.clear()
        _STARTED.append(weakref.ref(self))
        self.process = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=self.preexec_fn,
        )
        ready = threading.Event()  # set by the ready line, or by the end of the output
        served = threading.Event()  # set by the ready line only

        def pump() -> None:
            assert self.process is not None
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line.rstrip("\n"))
                match = _READY.search(line)
                if match and not ready.is_set():
                    self.port = int(match.group("port"))
                    ports = _LISTENERS.search(line)
                    if ports:
                        pairs = (item.partition("=") for item in ports.group("ports").split(","))
                        self.listener_ports = {name: int(port) for name, _, port in pairs}
                    served.set()
                    ready.set()
            ready.set()

        self._reader = threading.Thread(target=pump, daemon=True)
        self._reader.start()
        # The output can end (a failed start) a moment before the process is reaped: only the ready line counts.
        ready.wait(self.startup_timeout_s)
        if not served.is_set() or self.process.poll() is not None:
            log = "\n".join(self.output)
            self.kill()
            raise RuntimeError(f"brook did not start within {self.startup_timeout_s}s:\n{log}")
        return self

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM and wait: the clean shutdown path. Returns the exit code."""
        process, reader = self.process, self._reader
        if process is None:
            return 0
        code = terminate(process, timeout_s)
        self._join(process, reader)
        return code

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown work at all."""
        process, reader = self.process, self._reader
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        self._join(process, reader)

    def restart(self, *, crash: bool = False) -> BrookProcess:
        if crash:
            self.kill()
        else:
            self.stop()
        return self.start()

    def _join(self, process: subprocess.Popen[str] | None, reader: threading.Thread | None) -> None:
        """Finish with one run's process and output reader (taken before it exited: another thread, such as a
        supervisor, may already have started the next run on this object)."""
        if reader is not None:
            reader.join(timeout=5)
            if self._reader is reader:
                self._reader = None
        # closing the pipe while its reader still reads would block on the reader's lock
        if process is not None and process.stdout is not None and (reader is None or not reader.is_alive()):
            process.stdout.close()

    def log_text(self) -> str:
        return "\n".join(self.output)

    def wait_for_log(self, pattern: str, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            if any(regex.search(line) for line in list(self.output)):
                return True
            time.sleep(0.05)
        return False
