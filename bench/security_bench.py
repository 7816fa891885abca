"""Security costs, measured in one run on one brook: produce and consume throughput over SASL_SSL
(SCRAM-SHA-512) as a ratio of PLAINTEXT, and the time to open an authenticated connection.

    python bench/security_bench.py            # full sizes
    python bench/security_bench.py --smoke    # seconds (CI)

One broker with a PLAINTEXT and a SASL_SSL listener; rounds alternate (plain, secure, secure, plain, ...) on
fresh topics and the table shows medians. Connection setup is timed from brook's own blocking client side
(TCP connect, then TLS handshake, then SaslHandshake + two SaslAuthenticate rounds; PBKDF2 with 4096
iterations included, which is client work), against a PLAINTEXT connect + ApiVersions.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import confluent_kafka
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
    consumer = confluent_kafka.Consumer({**conf, "group.id": f"g-{topic}", "fetch.queue.backoff.ms": 5})
    consumer.assign([confluent_kafka.TopicPartition(topic, p, 0) for p in range(2)])
    received = size = 0
    start = time.perf_counter()
    deadline = time.monotonic() + 120
    while received < count and time.monotonic() < deadline:
        batch = [m for m in consumer.consume(min(10_000, count - received), 1.0) if m.error() is None]
        received += len(batch)
        size += sum(len(m.value()) for m in batch)
    elapsed = time.perf_counter() - start
    consumer.close()
    if received != count:
        raise RuntimeError(f"consumed {received} of {count}")
    return size / elapsed


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
    args = parser.parse_args(argv)
    rounds, count, connections = (1, 5_000, 10) if args.smoke else (3, 100_000, 50)
    size = 1024
    pki = TestPki(Path(tempfile.mkdtemp(prefix="brook-bench-pki-")))
    overrides = secured_listeners(pki)
    overrides["listeners"] = "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
    with BrookProcess(overrides=overrides) as broker:
        add_scram_user(broker.bootstrap, USER, PASSWORD, (MECHANISM,))
        confs = {
            "PLAINTEXT": {"bootstrap.servers": broker.bootstrap},
            "SASL_SSL": {"bootstrap.servers": broker.listener_bootstrap("SASL_SSL"), **_client_conf(pki)},
        }
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        results: dict[str, dict[str, list[float]]] = {k: {"produce": [], "consume": []} for k in confs}
        order = [name for _ in range(rounds) for name in ("PLAINTEXT", "SASL_SSL", "SASL_SSL", "PLAINTEXT")]
        for i, name in enumerate(order):
            topic = f"sec-bench-{i}"
            admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
            results[name]["produce"].append(_produce(confs[name], topic, count, size))
            results[name]["consume"].append(_consume(confs[name], topic, count))
        secure_address = ("127.0.0.1", broker.listener_ports["SASL_SSL"])
        plain_ms = statistics.median(_connect_ms(("127.0.0.1", broker.port), {}) for _ in range(connections))
        full = {**_client_conf(pki), "sasl.mechanism": MECHANISM}
        secure_ms = statistics.median(_connect_ms(secure_address, full) for _ in range(connections))
        server_ms = _scram_server_ms(secure_address, pki, connections)
    print(f"security bench: {count} x {size} B records, 2 partitions, acks=all, {rounds * 2} rounds each")  # noqa: T201
    for kind in ("produce", "consume"):
        plain = statistics.median(results["PLAINTEXT"][kind]) / 2**20
        secure = statistics.median(results["SASL_SSL"][kind]) / 2**20
        print(  # noqa: T201
            f"  {kind:8s} PLAINTEXT {plain:7.1f} MiB/s  SASL_SSL {secure:7.1f} MiB/s  ratio {secure / plain:.2f}"
        )
    print(f"  connect  PLAINTEXT+ApiVersions {plain_ms:.1f} ms  TLS+{MECHANISM} {secure_ms:.1f} ms (median)")  # noqa: T201
    print(f"  {MECHANISM} broker time (both SaslAuthenticate rounds, median) {server_ms:.2f} ms")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
