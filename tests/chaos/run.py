"""Randomized chaos run (`make chaos`): faults on a 3-broker cluster under idempotent acks=all producers and a
committing group, then brook.testing.checker's figures. Exit status 1 on any anomaly, broker exit, producer
fatal error, or an acknowledgement gap longer than zookeeper.session.timeout.ms + 5 s.

python -m tests.chaos.run --seed 7 --duration 120 --interval 5

With BROOK_CHAOS_CLIENT_LOG=DIR set, each producer writes librdkafka's idempotence and protocol debug log to
DIR/<name>.log (what it sent, what each answer was, why it bumped its epoch).

Faults (one about every --interval seconds, once every broker is up again; chosen by the seed): kill -9,
SIGTERM, SIGSTOP for 2-8 s, ZooKeeper SIGSTOPped past the session timeout, a broker cut off from the other
brokers and/or ZooKeeper for 3-10 s, and a replica move (`brook topic reassign`: a partition of three
replicas goes to two random brokers, perhaps without its leader; one of two goes back to all three; the
faults after it land while it runs). A supervisor thread starts any broker that is down at once (also one
that exited by itself, which is reported). At the end: heal, move every partition back to three replicas,
wait for every partition to have a leader and a full ISR, stop the clients, read every partition back from
offset 0.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing.checker import CheckReport, check
from brook.testing.cluster import BrokerExit, BrookCluster
from tests.chaos.workload import ConsumerMember, ProducerLoad, read_back, read_committed

TOPIC = "chaos"
GROUP = "chaos-group"
PARTITIONS = 6
SESSION_TIMEOUT_MS = 6000
GAP_LIMIT_S = SESSION_TIMEOUT_MS / 1000 + 5
FAULTS = ("kill", "terminate", "pause", "zookeeper", "partition", "reassign")
BROKER_SETTINGS = {
    "zookeeper.session.timeout.ms": str(SESSION_TIMEOUT_MS),
    "replica.lag.time.max.ms": "5000",
    "offsets.topic.replication.factor": "3",
    "offsets.topic.num.partitions": "6",
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "group.initial.rebalance.delay.ms": "0",
}


def say(start: float, text: str) -> None:
    print(f"[{time.monotonic() - start:7.1f}s] {text}", flush=True)  # noqa: T201


class Supervisor(threading.Thread):
    """Starts every broker that is down, at once, as systemd or Kubernetes would; each start on a thread of
    its own so that a broker slow to start delays nothing else."""

    def __init__(self, cluster: BrookCluster, start: float) -> None:
        super().__init__(name="supervisor", daemon=True)
        self.cluster = cluster
        self.start_time = start
        self.failures = 0
        self.enabled = threading.Event()
        self.enabled.set()
        self._starting: set[int] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(0.5):
            if not self.enabled.is_set():
                continue
            for node_id, broker in self.cluster.brokers.items():
                with self._lock:
                    if broker.is_running() or node_id in self._starting:
                        continue
                    self._starting.add(node_id)
                threading.Thread(target=self._start, args=(node_id,), daemon=True).start()

    def _start(self, node_id: int) -> None:
        try:
            self.cluster.start_broker(node_id)
            say(self.start_time, f"supervisor: broker {node_id} started")
        except RuntimeError:
            self.failures += 1
            if not self._stopping.is_set():
                say(self.start_time, f"supervisor: broker {node_id} FAILED to start (exit recorded)")
        finally:
            with self._lock:
                self._starting.discard(node_id)

    def stop(self) -> None:
        self._stopping.set()
        self.join(5)


class Chaos:
    def __init__(self, cluster: BrookCluster, rng: random.Random, start: float) -> None:
        self.cluster = cluster
        self.rng = rng
        self.start = start
        self.faults: Counter[str] = Counter()

    def wait_for_all_up(self, timeout_s: float) -> None:
        """One fault at a time: the next one waits until the supervisor has every broker back."""
        deadline = time.monotonic() + timeout_s
        if len(self.cluster.up()) < len(self.cluster.brokers):
            say(self.start, f"waiting for all brokers to be up (up: {self.cluster.up()})")
        while len(self.cluster.up()) < len(self.cluster.brokers) and time.monotonic() < deadline:
            time.sleep(0.2)

    def inject(self, kind: str) -> None:
        cluster, rng = self.cluster, self.rng
        up = cluster.up()
        if not up and kind != "zookeeper":
            say(self.start, f"fault: {kind} skipped, no broker is up")
            return
        victim = rng.choice(up) if up else -1
        self.faults[kind] += 1
        if kind == "kill":
            say(self.start, f"fault: kill -9 broker {victim}")
            cluster.kill(victim)
        elif kind == "terminate":
            say(self.start, f"fault: SIGTERM broker {victim}")
            code = cluster.terminate(victim)
            say(self.start, f"       broker {victim} exited with {code}")
        elif kind == "pause":
            seconds = rng.uniform(2, 8)
            say(self.start, f"fault: SIGSTOP broker {victim} for {seconds:.1f}s")
            cluster.pause(victim)
            time.sleep(seconds)
            cluster.resume(victim)
        elif kind == "zookeeper":
            seconds = SESSION_TIMEOUT_MS / 1000 + rng.uniform(1, 3)
            say(self.start, f"fault: SIGSTOP ZooKeeper for {seconds:.1f}s")
            cluster.pause_zookeeper()
            time.sleep(seconds)
            cluster.resume_zookeeper()
        elif kind == "reassign":
            partition = rng.randrange(PARTITIONS)
            current = replicas_of(cluster, partition)
            target = rng.sample(up, 2) if len(current) == 3 else rng.sample(sorted(cluster.brokers), 3)
            say(self.start, f"fault: move partition {partition} from {current} to {target}")
            say(self.start, f"       {reassign(cluster, partition, target)}")
        elif kind == "partition":
            others = [n for n in cluster.brokers if n != victim]
            cut = rng.choice([[*others, "zookeeper"], others, ["zookeeper"], [rng.choice(others)]])
            seconds = rng.uniform(3, 10)
            say(self.start, f"fault: partition broker {victim} from {cut} for {seconds:.1f}s")
            cluster.partition(victim, from_=cut)
            time.sleep(seconds)
            cluster.heal()


def replicas_of(cluster: BrookCluster, partition: int) -> list[int]:
    doc = cluster._json(f"/brokers/topics/{TOPIC}") or {}
    return list(doc.get("partitions", {}).get(str(partition), []))


def moving(cluster: BrookCluster) -> bool:
    doc = cluster._json(f"/brokers/topics/{TOPIC}") or {}
    return bool(doc.get("adding_replicas") or doc.get("removing_replicas"))


def reassign(cluster: BrookCluster, partition: int, target: list[int]) -> str:
    """`brook topic reassign` (its own process, as an operator runs it): the outcome in one line."""
    command = [sys.executable, "-m", "brook", "topic", "reassign", TOPIC, "-p", str(partition)]
    command += ["--replicas", ",".join(map(str, target)), "-b", cluster.bootstrap]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return "timed out"
    return f"exit {done.returncode}: {(done.stdout + done.stderr).strip().splitlines()[-1:]}"


def restore_replication(cluster: BrookCluster, start: float, timeout_s: float) -> None:
    """Move every partition left with two replicas back to three (the controller completes moves in progress)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        short = [p for p in range(PARTITIONS) if len(replicas_of(cluster, p)) < 3]
        if not short:
            return
        for partition in short:
            say(
                start,
                f"restoring partition {partition} to three replicas: {reassign(cluster, partition, [0, 1, 2])}",
            )
        time.sleep(1)


def settle(cluster: BrookCluster, start: float, timeout_s: float) -> bool:
    """Wait until every broker is up and registered and every partition of the topic and of
    __consumer_offsets has a leader and a full ISR."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            states = [cluster.partition_state(TOPIC, p) for p in range(PARTITIONS)]
            offsets_topic = cluster.zk.get_children("/brokers/topics")
            if "__consumer_offsets" in offsets_topic:
                states += [cluster.partition_state("__consumer_offsets", p) for p in range(6)]
            if (
                len(cluster.up()) == 3
                and len(cluster.registered_brokers()) == 3
                and all(s is not None and s["leader"] >= 0 and len(s["isr"]) == 3 for s in states)
                and not moving(cluster)
            ):
                say(start, "settled: all brokers registered, every ISR full")
                return True
        except Exception as exc:  # noqa: BLE001 - ZooKeeper may still be recovering: report and retry
            say(start, f"settle: {exc!r}")
        time.sleep(1)
    say(
        start,
        f"NOT settled within {timeout_s}s: {[cluster.partition_state(TOPIC, p) for p in range(PARTITIONS)]}",
    )
    return False


_INTERESTING = re.compile(
    r"ERROR|CRITICAL|Traceback|Error:|WARNING .*(fenc|diverg|truncat|out of order)", re.I
)


def log_excerpts(cluster: BrookCluster, lines_per_broker: int = 12) -> str:
    """The most frequent error lines of each broker's log (timestamps stripped), with their counts."""
    out = []
    for node_id, broker in cluster.brokers.items():
        text = broker.log_path.read_text(errors="replace").splitlines()
        found = Counter(
            re.sub(r"\d+", "N", line.split(" ", 2)[-1])[:200] for line in text if _INTERESTING.search(line)
        )
        out.append(f"--- broker {node_id} ({broker.log_path}): {sum(found.values())} error lines")
        out += [f"  {count:6d}x {line}" for line, count in found.most_common(lines_per_broker)]
    return "\n".join(out)


@dataclass
class Outcome:
    report: CheckReport
    faults: Counter[str]
    exits: list[BrokerExit]
    fatal: list[str]
    settled: bool
    commits: int
    commit_reads: int
    producer_errors: Counter[str]
    consumer_errors: Counter[str]

    @property
    def failed(self) -> bool:
        too_long = self.report.longest_gap_s > GAP_LIMIT_S
        return bool(self.report.anomalies or self.exits or self.fatal or not self.settled or too_long)

    def lines(self, seed: int) -> list[str]:
        out = [
            f"\n==== chaos result, seed {seed}",
            f"faults: {dict(self.faults)}",
            f"figures: {self.report.summary()}",
            f"commits acknowledged: {self.commits}, committed offsets read back: {self.commit_reads}",
            f"producer delivery errors: {dict(self.producer_errors)}",
            f"consumer errors: {dict(self.consumer_errors)}",
            *(f"examples {kind}: {found}" for kind, found in self.report.examples.items()),
            f"producer fatal errors: {len(self.fatal)} {self.fatal[:5]}",
            f"broker exits not caused by the harness: {len(self.exits)}",
        ]
        for e in self.exits:
            lines = e.log_tail.splitlines()
            errors = [line for line in lines if re.match(r"^(\w+\.)*[A-Z]\w+: ", line)]
            cause = errors[-1] if errors else "(no exception line)"
            out.append(f"--- broker {e.node_id} ({e.reason}) exit code {e.returncode}: {cause}")
            out += [f"    {line[:200]}" for line in lines[-4:]]
        return out

    def figures(self, seed: int) -> dict[str, object]:
        report = {k: v for k, v in vars(self.report).items() if k != "examples"}
        return {
            "seed": seed,
            "faults": dict(self.faults),
            **report,
            "broker_exits": len(self.exits),
            "producer_fatal": len(self.fatal),
            "settled": self.settled,
            "passed": not self.failed,
        }


def run(cluster: BrookCluster, args: argparse.Namespace, kinds: list[str], start: float) -> Outcome:
    rng = random.Random(args.seed)
    chaos = Chaos(cluster, rng, start)
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap, "log_level": 3})
    topic = NewTopic(TOPIC, PARTITIONS, 3, config={"min.insync.replicas": "2"})
    admin.create_topics([topic])[TOPIC].result(30)
    producers = [ProducerLoad(f"p{i}", cluster.bootstrap, TOPIC, args.rate) for i in range(4)]
    members = [ConsumerMember(f"c{i}", cluster.bootstrap, TOPIC, GROUP, 0.1) for i in range(3)]
    for client in (*producers, *members):
        client.start()
    cluster.wait_until(lambda: sum(len(p.acks) for p in producers) > 100, 60, "first acknowledgements")
    say(start, f"load running: {sum(len(p.acks) for p in producers)} acks; faults start")
    faults_from = time.monotonic()
    while time.monotonic() - faults_from < args.duration:
        time.sleep(rng.uniform(0.5, 1.5) * args.interval)
        chaos.wait_for_all_up(60)
        chaos.inject(rng.choice(kinds))
    faults_to = time.monotonic()
    cluster.heal()
    if "reassign" in kinds:
        chaos.wait_for_all_up(60)
        restore_replication(cluster, start, 60)
    settled = settle(cluster, start, 90)
    undelivered = sum(p.stop(60) for p in producers)
    for m in members:
        m.stop()
    say(start, f"clients stopped; {undelivered} records neither acknowledged nor failed")
    logs = read_back(cluster.bootstrap, TOPIC)
    commits = [c for m in members for c in m.commits]
    commit_reads = [r for m in members for r in m.reads] + read_committed(cluster.bootstrap, TOPIC, GROUP)
    acks = [a for p in producers for a in p.acks]
    points = [faults_from, *sorted(a.time_s for a in acks if faults_from <= a.time_s <= faults_to), faults_to]
    gap_from, gap_to = max(itertools.pairwise(points), key=lambda pair: pair[1] - pair[0])
    say(start, f"longest gap without an acknowledgement: {gap_from - start:.1f}s .. {gap_to - start:.1f}s")
    return Outcome(
        report=check(acks, logs, commits, commit_reads, window=(faults_from, faults_to)),
        faults=chaos.faults,
        exits=list(cluster.unexpected_exits),
        fatal=[f for p in producers for f in p.fatal],
        settled=settled,
        commits=len(commits),
        commit_reads=len(commit_reads),
        producer_errors=sum((p.errors for p in producers), Counter()),
        consumer_errors=sum((m.errors for m in members), Counter()),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of faults")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between faults, about")
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated subset of {FAULTS}")
    parser.add_argument("--rate", type=float, default=100.0, help="records per second per producer")
    parser.add_argument("--data-dir", type=Path, default=None, help="the cluster's data and logs (kept)")
    parser.add_argument("--report", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    kinds = [k for k in args.faults.split(",") if k]
    if unknown := set(kinds) - set(FAULTS):
        parser.error(f"unknown faults {sorted(unknown)}")
    logging.getLogger("kazoo").setLevel(
        logging.ERROR
    )  # our inspection client: ZooKeeper pauses are the point
    start = time.monotonic()
    say(start, f"chaos seed={args.seed} duration={args.duration}s interval={args.interval}s faults={kinds}")
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="brook-chaos-"))
    say(start, f"data and broker logs in {data_dir}")
    # a supervisor gives a start 20 s (a broker starts in 1-3 s here) before it kills it and tries again
    cluster = BrookCluster(3, data_dir=data_dir, overrides=BROKER_SETTINGS, startup_timeout_s=20)
    cluster.start()
    supervisor = Supervisor(cluster, start)
    supervisor.start()
    try:
        outcome = run(cluster, args, kinds, start)
        supervisor.stop()
        lines = [*outcome.lines(args.seed), log_excerpts(cluster)]
        verdict = "FAIL" if outcome.failed else "PASS"
        lines.append(f"RESULT: {verdict} (gap limit {GAP_LIMIT_S:.0f}s, settled={outcome.settled})")
        sys.stdout.write("\n".join(lines) + "\n")
        if args.report:
            args.report.write_text(json.dumps(outcome.figures(args.seed)))
        return 1 if outcome.failed else 0
    finally:
        supervisor.stop()
        cluster.close()


if __name__ == "__main__":
    sys.exit(main())
