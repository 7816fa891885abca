"""Hostile clients on TLS listeners of a real `brook serve`: plaintext Kafka requests and garbage where a TLS
handshake belongs, a handshake left half done, and an unauthenticated 100 MB frame over TLS. Each ends in a
closed connection with a log line naming the reason; the broker keeps answering other clients."""

from __future__ import annotations

import os
import socket
import ssl
import struct
import time
from collections.abc import Iterator

import pytest

from brook.testing import BrookProcess
from brook.testing.security import TestPki, secured_listeners
from tests.integration.hostile_common import assert_alive, closed_by_peer


@pytest.fixture(scope="module")
def broker(tmp_path_factory) -> Iterator[tuple[BrookProcess, TestPki]]:
    pki = TestPki(tmp_path_factory.mktemp("pki"))
    overrides = secured_listeners(pki)
    with BrookProcess(data_dir=tmp_path_factory.mktemp("hostile-tls"), overrides=overrides) as process:
        yield process, pki


@pytest.fixture(autouse=True)
def broker_survives(broker) -> Iterator[None]:
    yield
    assert_alive(broker[0])


def _connect(process: BrookProcess, listener: str) -> socket.socket:
    host, port = process.listener_bootstrap(listener).rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=10)


def _wait_for_line(process: BrookProcess, *fragments: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(all(f in line for f in fragments) for line in list(process.output)):
            return
        time.sleep(0.05)
    raise AssertionError(f"no log line with {fragments}")


@pytest.mark.parametrize("listener", ["SSL", "SASL_SSL"])
def test_a_plaintext_kafka_request_on_a_tls_listener_is_closed_and_logged(broker, listener) -> None:
    process, _ = broker
    sock = _connect(process, listener)
    try:
        peer = sock.getsockname()
        header = struct.pack(">hhih", 18, 0, 1, 1) + b"c"
        sock.sendall(struct.pack(">i", len(header)) + header)
        assert closed_by_peer(sock, timeout_s=30)
    finally:
        sock.close()
    _wait_for_line(process, "TLS handshake failed", f"peer={peer!r}")


def test_garbage_on_a_tls_listener_is_closed_and_logged(broker) -> None:
    process, _ = broker
    sock = _connect(process, "SSL")
    try:
        peer = sock.getsockname()
        sock.sendall(b"\x16\x03\x01\xff\xff" + os.urandom(4096))  # a TLS record header announcing 65535 bytes
        sock.shutdown(socket.SHUT_WR)
        assert closed_by_peer(sock, timeout_s=30)
    finally:
        sock.close()
    _wait_for_line(process, "TLS handshake failed", f"peer={peer!r}")


def test_a_half_done_handshake_does_not_keep_others_waiting(broker) -> None:
    """Ten clients send the first bytes of a ClientHello and stop: others are served meanwhile."""
    process, _ = broker
    stuck = [_connect(process, "SSL") for _ in range(10)]
    try:
        for sock in stuck:
            sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        assert_alive(process)
    finally:
        for sock in stuck:
            sock.close()


def test_an_unauthenticated_100mb_frame_over_tls_is_refused_unread(broker) -> None:
    """SASL_SSL: sasl.server.max.receive.size (524288) holds inside TLS too."""
    process, pki = broker
    context = ssl.create_default_context(cafile=str(pki.ca))
    raw = _connect(process, "SASL_SSL")
    sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
    try:
        peer = sock.getsockname()
        sock.sendall(struct.pack(">i", 100 * 1024 * 1024) + struct.pack(">hhih", 36, 2, 1, 1) + b"x")
        assert closed_by_peer(sock, timeout_s=30)
    finally:
        sock.close()
    _wait_for_line(process, f"peer={peer!r}", "frame size 104857600 outside [8, 524288]")
