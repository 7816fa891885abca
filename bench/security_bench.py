"""Security costs, measured in one run on one brook: produce and consume throughput over SASL_SSL
(SCRAM-SHA-512) as a ratio of PLAINTEXT, and the time to open an authenticated connection.

    python bench/security_bench.py            # full sizes
    python bench/security_bench.py --smoke    # seconds (CI)

One broker with a PLAINTEXT and a SASL_SSL listener; rounds alternate (plain, secure, secure, plain, ...) on
fresh topics, each side with the same client settings (librdkafka's defaults for fetching), and the table
shows medians. Throughput is steady state: the producer's connection (and, over SASL_SSL, its TLS handshake
and SCRAM exchange) is opened by one untimed record first, and the consumer's clock starts at its first
record, so the connection setup, timed on its own below, is not counted in MiB/s. Each line also gives the
spread of the paired rounds' ratios and the broker's CPU time per MiB (user + system, from /proc), which
other load on the machine moves less than throughput. Connection setup is timed from brook's own blocking
client side (TCP connect, then TLS handshake, then SaslHandshake + two SaslAuthenticate rounds; PBKDF2 with
4096 iterations included, which is client work), against a PLAINTEXT connect + ApiVersions.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import confluent_kafka
import targets
from confluent_kafka.admin import AdminClient, NewTopic

from brook.protocol.scram import ScramClient
from brook.protocol.secure_socket import call, connect
from brook.testing.broker_process import BrookProcess
from brook.testing.security import TestPki, add_scram_user, secured_listeners

USER, PASSWORD, MECHANISM = "bench", "bench-secret", "SCRAM-SHA-512"


def _client_conf(pki: TestPki) -> dict[str, str]:
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": MECHANISM,
        "sasl.username": USER,
        "sasl.password": PASSWORD,
        "ssl.ca.location": str(pki.ca),
    }


def _produce(conf: dict[str, str], topic: str, count: int, size: int) -> float:
    producer = confluent_kafka.Producer(
        {**conf, "acks": "all", "linger.ms": 5, "batch.size": 1048576, "enable.idempotence": False,
         "queue.buffering.max.messages": 1_000_000, "delivery.report.only.error": True}
    )  # fmt: skip
    payload = b"x" * size
    producer.produce(topic, payload, None, 0)  # untimed: connection, TLS handshake, SASL, metadata
    if producer.flush(60):
        raise RuntimeError("the first record was not delivered")
    start = time.perf_counter()
    for i in range(count):
        try:
            producer.produce(topic, payload, None, i % 2)
        except BufferError:
            producer.poll(0.001)
            producer.produce(topic, payload, None, i % 2)
    if producer.flush(120):
        raise RuntimeError("records left undelivered")
    return count * size / (time.perf_counter() - start)


def _consume(conf: dict[str, str], topic: str, count: int) -> float:
    """MiB/s from the first record received to the last of `count` (+1: the producer's untimed first)."""
    consumer = confluent_kafka.Consumer({**conf, "group.id": f"g-{topic}", "fetch.queue.backoff.ms": 5})
    consumer.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in range(2)])
    deadline = time.monotonic() + 120
    first: list[Any] = []
    while not first and time.monotonic() < deadline:
        first = [m for m in consumer.consume(1, 1.0) if m.error() is None]
    start = time.perf_counter()
    received, size = len(first), 0
    while received < count + 1 and time.monotonic() < deadline:
        batch = [m for m in consumer.consume(min(10_000, count + 1 - received), 1.0) if m.error() is None]
        received += len(batch)
        size += sum(len(m.value()) for m in batch)
    elapsed = time.perf_counter() - start
    consumer.close()
    if received != count + 1:
        raise RuntimeError(f"consumed {received} of {count + 1}")
    return size / elapsed


def _cpu_s(pid: int) -> float:
    """A process's user + system CPU seconds (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _connect_ms(address: tuple[str, int], config: dict[str, str]) -> float:
    start = time.perf_counter()
    sock = connect(address, 10.0, config)
    if config.get("security.protocol", "PLAINTEXT") == "PLAINTEXT":
        _call(sock, 18, 0, {})
    elapsed = (time.perf_counter() - start) * 1000
    sock.close()
    return elapsed


def _scram_server_ms(address: tuple[str, int], pki: TestPki, rounds: int) -> float:
    """The broker's part of SCRAM alone: the time between sending a SaslAuthenticate and its answer, for
    both rounds, with the client's PBKDF2 done before the clock starts on the second round."""
    times = []
    for _ in range(rounds):
        sock = connect(address, 10.0, {"security.protocol": "SSL", "ssl.ca.location": str(pki.ca)})
        scram = ScramClient(MECHANISM, USER, PASSWORD)
        _call(sock, 17, 1, {"mechanism": MECHANISM})
        t0 = time.perf_counter()
        first = _call(sock, 36, 2, {"auth_bytes": scram.first()})
        t1 = time.perf_counter()
        final = scram.final(bytes(first.auth_bytes))
        t2 = time.perf_counter()
        answer = _call(sock, 36, 2, {"auth_bytes": final})
        t3 = time.perf_counter()
        scram.verify(bytes(answer.auth_bytes))
        times.append((t1 - t0 + t3 - t2) * 1000)
        sock.close()
    return statistics.median(times)


def _call(sock: socket.socket, key: int, version: int, body: dict[str, object]) -> Any:
    return call(sock, key, version, body, "bench")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument(
        "--rounds", type=int, help="(plain, secure, secure, plain) groups; default 1 smoke, 5 full"
    )
    parser.add_argument("--records", type=int, help="records per round; default 5,000 smoke, 300,000 full")
    args = parser.parse_args(argv)
    rounds, count, connections = (1, 5_000, 10) if args.smoke else (5, 300_000, 50)
    rounds, count = args.rounds or rounds, args.records or count
    size = 1024
    pki = TestPki(Path(tempfile.mkdtemp(prefix="brook-bench-pki-")))
    overrides = secured_listeners(pki)
    overrides["listeners"] = "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
    load_before = os.getloadavg()
    with BrookProcess(overrides=overrides) as broker:
        assert broker.process is not None
        add_scram_user(broker.bootstrap, USER, PASSWORD, (MECHANISM,))
        confs = {
            "PLAINTEXT": {"bootstrap.servers": broker.bootstrap},
            "SASL_SSL": {"bootstrap.servers": broker.listener_bootstrap("SASL_SSL"), **_client_conf(pki)},
        }
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        # kind -> protocol -> [(bytes/s, broker CPU s per MiB)], in round order
        results: dict[str, dict[str, list[tuple[float, float]]]] = {
            kind: {name: [] for name in confs} for kind in ("produce", "consume")
        }
        order = [name for _ in range(rounds) for name in ("PLAINTEXT", "SASL_SSL", "SASL_SSL", "PLAINTEXT")]
        mib = count * size / 2**20
        for i, name in enumerate(order):
            topic = f"sec-bench-{i}"
            admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
            for kind in ("produce", "consume"):
                cpu_before = _cpu_s(broker.process.pid)
                if kind == "produce":
                    rate = _produce(confs[name], topic, count, size)
                else:
                    rate = _consume(confs[name], topic, count)
                results[kind][name].append((rate, (_cpu_s(broker.process.pid) - cpu_before) / mib))
            admin.delete_topics([topic])[topic].result(timeout=30)  # full runs write GBs: free the disk
        secure_address = ("127.0.0.1", broker.listener_ports["SASL_SSL"])
        plain_ms = statistics.median(_connect_ms(("127.0.0.1", broker.port), {}) for _ in range(connections))
        full = {**_client_conf(pki), "sasl.mechanism": MECHANISM}
        secure_ms = statistics.median(_connect_ms(secure_address, full) for _ in range(connections))
        server_ms = _scram_server_ms(secure_address, pki, connections)
    load_after = os.getloadavg()
    print(  # noqa: T201
        f"security bench: {count} x {size} B records, 2 partitions, acks=all, {rounds * 2} rounds each; "
        f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    for kind, by_name in results.items():
        plain, secure = by_name["PLAINTEXT"], by_name["SASL_SSL"]
        plain_rate, secure_rate = (statistics.median(r for r, _ in side) / 2**20 for side in (plain, secure))
        pairs = sorted(s[0] / p[0] for p, s in zip(plain, secure, strict=True))  # rounds next to each other
        plain_cpu, secure_cpu = (statistics.median(c for _, c in side) * 1000 for side in (plain, secure))
        print(  # noqa: T201
            f"  {kind:8s} PLAINTEXT {plain_rate:7.1f} MiB/s  SASL_SSL {secure_rate:7.1f} MiB/s  "
            f"ratio {secure_rate / plain_rate:.2f} (paired rounds {pairs[0]:.2f}-{pairs[-1]:.2f}); "
            f"broker CPU {plain_cpu:.2f} / {secure_cpu:.2f} ms per MiB"
        )
    print(f"  connect  PLAINTEXT+ApiVersions {plain_ms:.1f} ms  TLS+{MECHANISM} {secure_ms:.1f} ms (median)")  # noqa: T201
    print(f"  {MECHANISM} broker time (both SaslAuthenticate rounds, median) {server_ms:.2f} ms")  # noqa: T201
    doc = {
        "records": count,
        "record_bytes": size,
        "load_avg_before": load_before[0],
        "load_avg_after": load_after[0],
        # kind -> protocol -> [[bytes/s, broker CPU s per MiB]], in round order
        "rounds": results,
        "connect_ms": {"PLAINTEXT": plain_ms, f"SASL_SSL {MECHANISM}": secure_ms},
        "scram_server_ms": server_ms,
    }
    print(f"  results: {targets.write_results('security', doc)}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
