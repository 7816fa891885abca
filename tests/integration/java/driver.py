"""A long-lived Java client (tests/java's driver) speaking JSON lines: one JVM per kafka-clients version.

`make java-driver` builds build/java/<version>/ (the driver's jar and a classpath file) for each version in
JAVA_CLIENT_VERSIONS; `make test` depends on it.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[3]
JAVA_CLIENT_VERSIONS = ("4.4.0", "3.9.2")  # the newest 4.x and 3.x of org.apache.kafka:kafka-clients


class JavaError(Exception):
    """The driver answered with an exception: `type` is the Kafka exception's simple class name."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(f"{type_}: {message}")
        self.type = type_
        self.message = message


class JavaDriver:
    def __init__(self, version: str, reply_timeout_s: float = 150.0, log_level: str = "") -> None:
        log_level = log_level or os.environ.get("BROOK_JAVA_LOG_LEVEL", "warn")
        build = ROOT / "build" / "java" / version
        jar = build / "brook-java-driver-1.jar"
        classpath = build / "classpath.txt"
        java = shutil.which("java")
        if java is None or not jar.exists() or not classpath.exists():
            raise RuntimeError(f"the Java driver for {version} is not built: run `make java-driver`")
        self.version = version
        self.reply_timeout_s = reply_timeout_s
        self.stderr: deque[str] = deque(maxlen=400)
        self._next_id = 0
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.process = subprocess.Popen(
            [
                java,
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                f"-Dorg.slf4j.simpleLogger.defaultLogLevel={log_level}",
                *os.environ.get(
                    "BROOK_JAVA_OPTS", ""
                ).split(),  # e.g. -Dorg.slf4j.simpleLogger.log.<logger>=debug
                "-cp",
                f"{jar}:{classpath.read_text().strip()}",
                "brook.driver.Driver",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()
        hello = self._answer()
        if not hello.get("ready"):
            raise RuntimeError(f"the Java driver did not start: {hello}")
        self.client_version = str(hello["version"])

    def _pump_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._answers.put(json.loads(line))
        self._answers.put(None)

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line.rstrip("\n"))

    def _answer(self) -> dict[str, Any]:
        try:
            answer = self._answers.get(timeout=self.reply_timeout_s)
        except queue.Empty:
            raise RuntimeError(
                f"the Java driver did not answer in {self.reply_timeout_s}s:\n{self.log()}"
            ) from None
        if answer is None:
            raise RuntimeError(f"the Java driver exited:\n{self.log()}")
        return answer

    def log(self) -> str:
        return "\n".join(self.stderr)

    def call(self, op: str, **args: Any) -> Any:
        """Run one command; its result, or JavaError with the Kafka exception's type."""
        self._next_id += 1
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"id": self._next_id, "op": op, **args}) + "\n")
        self.process.stdin.flush()
        answer = self._answer()
        assert answer["id"] == self._next_id, answer
        if not answer["ok"]:
            raise JavaError(answer["error"]["type"], answer["error"]["message"])
        return answer["result"]

    def admin(self, call: str, **args: Any) -> Any:
        return self.call("admin", call=call, **args)

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.call("exit")
                self.process.wait(30)
            except (RuntimeError, OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
