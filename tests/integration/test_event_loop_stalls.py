"""Nothing a client sends stalls the event loop: another client's ApiVersions is answered promptly while
many SCRAM authentications run, and while a request naming 190,000 partitions is handled.

Timing under a loaded machine is noisy, so the bounds are generous and, for the big request, relative: a
handler that held the loop for its whole run would delay the probe by about the request's own duration;
handled in slices (per_partition_sliced) with its response built and encoded on a worker thread, the probe
waits a fraction of it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from brook.common.errors import ErrorCode
from brook.protocol.scram import ScramClient
from brook.testing import BrookProcess
from tests.integration.raw_client import RawClient

log = logging.getLogger(__name__)
SASL = "SASL_PLAINTEXT"
USERS = {"SCRAM-SHA-256": ("bob", "bob-secret", 4096), "SCRAM-SHA-512": ("carol", "carol-secret", 16384)}
MECHANISM_TYPES = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[BrookProcess]:
    overrides = {
        "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        "auto.create.topics.enable": "false",
    }
    with BrookProcess(data_dir=tmp_path_factory.mktemp("loop-stalls"), overrides=overrides) as process:
        raw = RawClient(process.bootstrap)
        try:
            upsertions = []
            for mechanism, (user, password, iterations) in USERS.items():
                salt = os.urandom(16)
                digest = "sha256" if mechanism.endswith("256") else "sha512"
                salted = hashlib.pbkdf2_hmac(digest, password.encode(), salt, iterations)
                upsertions.append(
                    {
                        "name": user,
                        "mechanism": MECHANISM_TYPES[mechanism],
                        "iterations": iterations,
                        "salt": salt,
                        "salted_password": salted,
                    }
                )
            response = raw.request(51, 0, {"deletions": [], "upsertions": upsertions})
            assert [r.error_code for r in response.results] == [ErrorCode.none] * 2
            created = raw.request(
                19,
                5,
                {"topics": [{"name": "wide", "num_partitions": 4, "replication_factor": 1}], "timeout": 5000},
            )
            assert created.topics[0].error_code == ErrorCode.none
        finally:
            raw.close()
        yield process


class Probe:
    """ApiVersions on a connection of its own, every 10 ms, recording each answer's latency."""

    def __init__(self, broker: BrookProcess) -> None:
        self.raw = RawClient(broker.bootstrap, timeout_s=120)
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            response = self.raw.request(
                18, 3, {"client_software_name": "probe", "client_software_version": "1"}
            )
            assert response.error_code == ErrorCode.none
            self.latencies.append(time.monotonic() - started)
            time.sleep(0.01)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(120)
        self.raw.close()


def _scram_authenticate(bootstrap: str, mechanism: str) -> int:
    user, password, _ = USERS[mechanism]
    raw = RawClient(bootstrap, timeout_s=120)
    try:
        assert raw.request(17, 1, {"mechanism": mechanism}).error_code == ErrorCode.none
        client = ScramClient(mechanism, user, password)
        first = raw.request(36, 2, {"auth_bytes": client.first()})
        assert first.error_code == ErrorCode.none
        final = raw.request(36, 2, {"auth_bytes": client.final(bytes(first.auth_bytes))})
        if final.error_code == ErrorCode.none:
            client.verify(bytes(final.auth_bytes))
        return int(final.error_code)
    finally:
        raw.close()


def test_other_clients_are_answered_while_many_scram_authentications_run(broker) -> None:
    bootstrap = broker.listener_bootstrap(SASL)
    outcomes: list[int] = []
    errors: list[BaseException] = []

    def authenticate(i: int) -> None:
        try:
            outcomes.append(_scram_authenticate(bootstrap, "SCRAM-SHA-512" if i % 2 else "SCRAM-SHA-256"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with Probe(broker) as probe:
        threads = [threading.Thread(target=authenticate, args=(i,)) for i in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
    assert not errors, errors
    assert outcomes == [ErrorCode.none] * 40
    assert probe.latencies, "the probe got no answer"
    log.info("40 SCRAM authentications: probe max %.0f ms", max(probe.latencies) * 1000)
    assert max(probe.latencies) < 5.0


def _timed(bootstrap: str, api_key: int, version: int, fields: dict[str, Any]) -> tuple[float, Any]:
    raw = RawClient(bootstrap, timeout_s=300)
    try:
        started = time.monotonic()
        response = raw.request(api_key, version, fields)
        return time.monotonic() - started, response
    finally:
        raw.close()


def test_a_describe_producers_for_190k_partitions_leaves_other_clients_served(broker) -> None:
    partitions = list(range(190_000))  # the topic has 4; within brook.request.max.elements (200,000)
    fields = {"topics": [{"name": "wide", "partition_indexes": partitions}]}
    with Probe(broker) as probe:
        time.sleep(0.3)
        duration, response = _timed(broker.bootstrap, 61, 0, fields)
    answered = response.topics[0].partitions
    assert [p.partition_index for p in answered] == partitions
    assert {p.error_code for p in answered[:4]} == {ErrorCode.none}
    assert {p.error_code for p in answered[4:]} == {ErrorCode.unknown_topic_or_partition}
    worst = max(probe.latencies)
    log.info("DescribeProducers of 190k partitions: %.2f s; probe max %.0f ms", duration, worst * 1000)
    assert worst < 0.5 * duration, f"the probe waited {worst:.2f} s of the request's {duration:.2f} s"
