"""Request frames captured from real clients (tests/fixtures/capture_frames.py) decode, and re-encode
to the very bytes the client sent."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from brook.broker import handlers
from brook.broker.handlers.base import REGISTRY
from brook.protocol import codec
from brook.protocol.connection import ServerConnection

handlers.load_all()

FRAMES = sorted((Path(__file__).parents[2] / "fixtures" / "frames").glob("*_request_v*.bin"))


def test_frames_were_captured_from_each_client() -> None:
    labels = {path.stem.rsplit("_", 1)[1] for path in FRAMES}
    assert labels >= {"librdkafka", "kafkapython", "kcat"}


@pytest.mark.parametrize("path", FRAMES, ids=[p.stem for p in FRAMES])
def test_captured_request_decodes_and_reencodes_identically(path: Path) -> None:
    frame = path.read_bytes()
    conn = ServerConnection(
        max_request_bytes=1 << 20, supported={h.api_key: h.versions for h in REGISTRY.values()}
    )
    conn.receive_data(struct.pack(">i", len(frame)) + frame)
    request = conn.next_request()
    if request.unsupported_version:
        assert request.api_key == 18  # a newer ApiVersions than brook advertises: answered in v0 (KIP-511)
        return
    (client_id_length,) = struct.unpack_from(">h", frame, 8)
    body_start = (
        10
        + max(client_id_length, 0)
        + (1 if codec.is_flexible_request(request.api_key, request.api_version) else 0)
    )
    # kio is the reference decoder (Produce is decoded by hand on the hot path: test_produce_codec.py)
    reencoded = codec.encode_body(
        codec.decode_request_body(request.api_key, request.api_version, frame, body_start)
    )
    assert frame[body_start : body_start + len(reencoded)] == reencoded
    trailing = len(frame) - body_start - len(reencoded)
    # librdkafka sends Metadata v11 with v10's include_cluster_authorized_operations; Kafka ignores the rest
    assert trailing == 0 or (path.stem == "metadata_request_v11_librdkafka" and trailing == 3)
