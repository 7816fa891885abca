"""Kafka's own tools (Maven Central jars resolved by `make kafka-tools` into tests/kafka-tools), run the way
Kafka's bin/*.sh scripts run them: `java -cp <classpath> <MainClass> args`.

The main classes are those of Kafka 4.3's bin/*.sh, and of Kafka 3.9's for `kafka=3` (kafka-run-class.sh puts every
jar of libs/ on the classpath; here the classpath is Maven's resolution of the same artifacts).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "MAIN_CLASSES",
    "JavaProcess",
    "ToolResult",
    "java_command",
    "run_tool",
    "wait_until",
    "write_properties",
]

KAFKA_TOOLS_DIR = Path(__file__).resolve().parents[1] / "kafka-tools"


@dataclass(frozen=True)
class _Kafka:
    """One Kafka release's tools: where its classpath is, how it is told where its log config is."""

    target: Path
    logging: tuple[str, ...]
    main_classes: Mapping[str, str]

    @property
    def classpath_file(self) -> Path:
        return self.target / "classpath.txt"

    def archive(self, classpath: str) -> Path:
        """The class archive for this exact classpath (the JVM refuses an archive dumped with another one)."""
        return self.target / f"tools-{hashlib.sha256(classpath.encode()).hexdigest()[:16]}.jsa"


# script (bin/<name>.sh) -> the main class it runs
MAIN_CLASSES = {
    "kafka-topics": "org.apache.kafka.tools.TopicCommand",
    "kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
    "kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
    "kafka-consumer-groups": "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
    "kafka-configs": "kafka.admin.ConfigCommand",
    "kafka-get-offsets": "org.apache.kafka.tools.GetOffsetShell",
    "kafka-delete-records": "org.apache.kafka.tools.DeleteRecordsCommand",
    "kafka-log-dirs": "org.apache.kafka.tools.LogDirsCommand",
    "kafka-broker-api-versions": "org.apache.kafka.tools.BrokerApiVersionsCommand",
    "kafka-producer-perf-test": "org.apache.kafka.tools.ProducerPerformance",
    "kafka-consumer-perf-test": "org.apache.kafka.tools.ConsumerPerformance",
    "kafka-streams-application-reset": "org.apache.kafka.tools.StreamsResetter",
    "kafka-cluster": "org.apache.kafka.tools.ClusterTool",
    "kafka-acls": "org.apache.kafka.tools.AclCommand",
    "kafka-reassign-partitions": "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
    "connect-standalone": "org.apache.kafka.connect.cli.ConnectStandalone",
    "connect-distributed": "org.apache.kafka.connect.cli.ConnectDistributed",
    "word-count": "brook.streams.WordCount",  # tests/kafka-tools/src/main/java: Kafka Streams' word count
}

# Kafka 4.3 (log4j2) and Kafka 3.9 (reload4j, three tools still in the Scala core jar)
_KAFKA = {
    4: _Kafka(
        KAFKA_TOOLS_DIR / "target",
        (f"-Dlog4j2.configurationFile={KAFKA_TOOLS_DIR / 'log4j2.properties'}",),
        MAIN_CLASSES,
    ),
    3: _Kafka(
        KAFKA_TOOLS_DIR / "kafka-3" / "target",
        (f"-Dlog4j.configuration=file:{KAFKA_TOOLS_DIR / 'log4j.properties'}",),
        {
            **MAIN_CLASSES,
            "kafka-dump-log": "kafka.tools.DumpLogSegments",
            "kafka-console-producer": "kafka.tools.ConsoleProducer",
            "kafka-broker-api-versions": "kafka.admin.BrokerApiVersionsCommand",
            "kafka-acls": "kafka.admin.AclCommand",
        },
    ),
}

# kafka-run-class.sh's heap for tools, and a JIT that starts fast: these runs are short. The JVM's own warnings go
# to stderr (by default they go to stdout, which the tests read).
_JVM_FLAGS = [
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
    "-Xlog:disable",
    "-Xlog:all=warning:stderr",
]
# Class data sharing: the first tool run with a classpath dumps the classes it loaded into an archive named after
# that classpath; later runs map them instead of loading and verifying them again (a tool's start: 0.9 s -> 0.4 s).


def _classpath(kafka: _Kafka) -> str:
    if not kafka.classpath_file.exists():
        pytest.fail(
            f"{kafka.classpath_file} is missing: build Kafka's tools with `make kafka-tools`", pytrace=False
        )
    jars = kafka.classpath_file.read_text().strip()
    # Kafka 4.3's classpath also holds the test's own classes (the Streams word count, built against 4.3).
    return f"{jars}{os.pathsep}{kafka.target / 'classes'}" if (kafka.target / "classes").is_dir() else jars


def java_command(
    script: str,
    args: Sequence[str],
    *,
    kafka: int = 4,
    log_level: str = "WARN",
    dump_archive_to: Path | None = None,
) -> list[str]:
    """The command line bin/<script>.sh of Kafka `kafka` (4: 4.3, 3: 3.9) would run (log_level: the root logger;
    bin/ uses WARN for tools), mapping the classpath's class archive if there is one, or dumping one to dump_archive_to."""
    release = _KAFKA[kafka]
    classpath = _classpath(release)
    archive = release.archive(classpath)
    if dump_archive_to is not None:
        sharing = [f"-XX:ArchiveClassesAtExit={dump_archive_to}"]
    else:
        sharing = [f"-XX:SharedArchiveFile={archive}"] if archive.exists() else []
    return [
        "java",
        *_JVM_FLAGS,
        *sharing,
        *release.logging,
        f"-Dbrook.log.level={log_level}",
        "-cp",
        classpath,
        release.main_classes[script],
        *args,
    ]


@dataclass(frozen=True)
class ToolResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        """stdout's non-blank lines, trailing spaces removed."""
        return [line.rstrip() for line in self.stdout.splitlines() if line.strip()]

    def describe(self) -> str:
        return (
            f"{' '.join(self.args)} -> exit {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )


def run_tool(
    script: str,
    *args: str,
    stdin: str | None = None,
    timeout_s: float = 120.0,
    expect_exit: int | None = 0,
    kafka: int = 4,
) -> ToolResult:
    """Run one of Kafka's scripts to its end; fail the test if it exits with another code than expect_exit."""
    archive = _KAFKA[kafka].archive(_classpath(_KAFKA[kafka]))
    dump = None if archive.exists() else archive.with_name(f"{archive.name}.{os.getpid()}.tmp")
    proc = subprocess.run(
        java_command(script, args, kafka=kafka, dump_archive_to=dump),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if dump is not None and dump.exists():
        dump.replace(archive)  # whole or not at all, for the JVMs that map it
    result = ToolResult([f"{script} (Kafka {kafka})", *args], proc.returncode, proc.stdout, proc.stderr)
    if expect_exit is not None and proc.returncode != expect_exit:
        pytest.fail(f"expected exit {expect_exit}: {result.describe()}", pytrace=False)
    return result


def write_properties(path: Path, props: Mapping[str, object]) -> Path:
    path.write_text("".join(f"{key}={value}\n" for key, value in props.items()))
    return path


def wait_until(
    predicate: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.25
) -> object:
    """Poll predicate until it returns something truthy; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}", pytrace=False)
        time.sleep(interval_s)


class JavaProcess:
    """A long-running Kafka program (a Connect worker, a Streams app): its output kept for waits and failures."""

    def __init__(self, script: str, *args: str, log_level: str = "INFO") -> None:
        self.script = script
        self.output: deque[str] = deque(maxlen=5000)
        self.process = subprocess.Popen(
            java_command(script, args, log_level=log_level),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))

    def lines_matching(self, pattern: str) -> list[str]:
        regex = re.compile(pattern)
        return [line for line in list(self.output) if regex.search(line)]

    def wait_for_line(self, pattern: str, timeout_s: float) -> str:
        """The last line matching pattern, waiting for one; fails (with the output) at the deadline or on exit."""
        deadline = time.monotonic() + timeout_s
        while not (matches := self.lines_matching(pattern)):
            if self.process.poll() is not None:
                pytest.fail(f"{self.script} exited {self.process.returncode}:\n{self.tail()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{self.script} printed no {pattern!r} in {timeout_s}s:\n{self.tail()}", pytrace=False
                )
            time.sleep(0.2)
        return matches[-1]

    def tail(self, lines: int = 60) -> str:
        return "\n".join(list(self.output)[-lines:])

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, as Ctrl-C or a service manager stops it: Kafka's shutdown hooks run. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    def __enter__(self) -> JavaProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
