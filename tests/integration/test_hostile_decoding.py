"""Hostile frames against a real `brook serve`: impossible counts and lengths, lies, truncations.

Each case sends frames over raw sockets and expects a clean close (or, for lengths that still fit the
frame, an answer); after each, the broker must be alive and answering, its RSS within 100 MB of what
it was before the first case, and the producer running alongside the whole module must get every
record through, in order (checked when the module ends).
"""

from __future__ import annotations

import random
import re
import struct

import pytest

from brook.protocol import codec
from brook.testing import BrookProcess
from tests.fixtures.request_gen import Prefix, random_body
from tests.integration.hostile_common import (
    MB,
    closed_by_peer,
    connect,
    frame,
    survival_fixtures,
)

RSS_BOUND = 100 * MB  # above the broker's RSS before the first hostile frame
HUGE = {
    "uvarint": b"\xff\xff\xff\xff\x0f",
    "int16": struct.pack(">h", 0x7FFF),
    "int32": struct.pack(">i", 0x7FFFFFFF),
}

# Several APIs in both encodings: legacy (int16 strings, int32 arrays/bytes) and flexible (varints).
HUGE_COUNT_APIS = [
    (0, 7),
    (0, 9),
    (1, 11),
    (1, 12),
    (3, 4),
    (3, 9),
    (8, 8),
    (11, 5),
    (14, 4),
    (18, 3),
    (19, 5),
]
# Lies that may still decode: only APIs whose effects cannot disturb the steady producer's topic.
LYING_APIS = [(1, 11), (1, 12), (2, 5), (3, 4), (3, 9), (9, 8), (10, 4), (15, 5), (18, 3), (32, 4)]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(
        data_dir=tmp_path_factory.mktemp("hostile-decoding"), overrides={"auto.create.topics.enable": "false"}
    ) as process:
        yield process


baseline_rss, producer_alongside, broker_survives = survival_fixtures(RSS_BOUND)


def _body_with_prefixes(api_key: int, version: int) -> tuple[bytes, list[Prefix]]:
    for seed in range(50):
        body, prefixes = random_body(api_key, version, random.Random(seed))
        if len(prefixes) >= 3:
            return body, prefixes
    return random_body(api_key, version, random.Random(0))


def _replace(body: bytes, prefix: Prefix, encoded: bytes) -> bytes:
    return body[: prefix.pos] + encoded + body[prefix.pos + prefix.size :]


def _send(broker: BrookProcess, api_key: int, version: int, body: bytes) -> str:
    """'closed' when the broker closed the connection, 'answered' when it sent a response."""
    flexible = codec.is_flexible_request(api_key, version)
    with connect(broker) as sock:
        sock.sendall(frame(api_key, version, body, flexible))
        sock.settimeout(10)
        try:
            first = sock.recv(4)
        except ConnectionResetError:
            return "closed"
        if first == b"":
            return "closed"
        return "answered"


def test_the_21_byte_metadata_request_closes_the_connection(broker):
    request = frame(3, 9, b"\xff\xff\xff\xff\x0f" + b"\x01\x00\x00\x00", flexible=True)
    assert len(request) == 4 + 21
    sock = connect(broker)
    sock.sendall(request)
    assert closed_by_peer(sock)
    sock.close()
    assert broker.wait_for_log(re.escape("Tried to allocate a collection of size 4294967294"), timeout_s=10)


@pytest.mark.parametrize(
    ("api_key", "version"), HUGE_COUNT_APIS, ids=[f"api{k}v{v}" for k, v in HUGE_COUNT_APIS]
)
def test_huge_counts_and_lengths_close_the_connection(broker, api_key, version):
    body, prefixes = _body_with_prefixes(api_key, version)
    kinds = set()
    for prefix in prefixes[:12]:
        kinds.add((prefix.kind, prefix.what))
        assert _send(broker, api_key, version, _replace(body, prefix, HUGE[prefix.kind])) == "closed", prefix
    assert kinds  # the body had something to lie about


@pytest.mark.parametrize(("api_key", "version"), LYING_APIS, ids=[f"api{k}v{v}" for k, v in LYING_APIS])
def test_lying_lengths_are_answered_or_closed(broker, api_key, version):
    body, prefixes = _body_with_prefixes(api_key, version)
    outcomes = []
    for prefix in prefixes[:8]:
        for delta in (-1, 2, 40):
            if prefix.kind == "uvarint":
                (stored,) = (
                    struct.unpack(">B", body[prefix.pos : prefix.pos + 1]) if prefix.size == 1 else (1,)
                )
                encoded = bytes([max(stored + delta, 0) & 0x7F])
            else:
                fmt = ">h" if prefix.kind == "int16" else ">i"
                (stored,) = struct.unpack_from(fmt, body, prefix.pos)
                encoded = struct.pack(fmt, stored + delta)
            outcomes.append(_send(broker, api_key, version, _replace(body, prefix, encoded)))
    assert set(outcomes) <= {"closed", "answered"}
    assert "closed" in outcomes  # a length 40 bytes past the end cannot be decoded


@pytest.mark.parametrize(
    ("api_key", "version"), HUGE_COUNT_APIS, ids=[f"api{k}v{v}" for k, v in HUGE_COUNT_APIS]
)
def test_truncated_bodies_close_the_connection(broker, api_key, version):
    body, _ = _body_with_prefixes(api_key, version)
    for cut in sorted({1, len(body) // 3, len(body) // 2, len(body) - 1}):
        if 0 < cut < len(body):
            assert _send(broker, api_key, version, body[:cut]) == "closed", cut


def test_a_frame_cut_off_by_the_peer_closing_is_dropped(broker):
    sock = connect(broker)
    sock.sendall(struct.pack(">i", 1000) + b"\x00\x03\x00\x09" + b"\x00" * 10)
    sock.shutdown(1)  # SHUT_WR: the rest of the frame never comes
    assert closed_by_peer(sock)
    sock.close()


def test_a_frame_over_socket_request_max_bytes_is_refused_from_its_prefix(broker):
    sock = connect(broker)
    sock.sendall(struct.pack(">i", 100 * 1024 * 1024 + 1) + b"\x00\x03")
    assert closed_by_peer(sock)
    sock.close()


def test_a_request_of_a_million_tiny_elements_is_refused(broker):
    # 4 MB of Metadata v4 topics with empty names: every count fits its bytes, but it would be two
    # million objects and seconds of decoding; brook.request.max.elements (200,000) refuses it.
    body = struct.pack(">i", 2_000_000) + b"\x00\x00" * 2_000_000 + b"\x01"
    assert _send(broker, 3, 4, body) == "closed"
    assert broker.wait_for_log(re.escape("more array elements in one message than the limit"), timeout_s=10)
