"""Sans-IO server side of a Kafka connection: bytes in, decoded requests out, framed responses back.

Owns framing (int32 size prefix), request headers v1/v2, response headers v0/v1. Knows no sockets:
the broker feeds it bytes with `receive_data` and writes what `send_response` returns.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

from brook.protocol import codec
from brook.protocol.produce import decode_produce_request
from brook.protocol.varint import read_uvarint

__all__ = [
    "NEED_DATA",
    "LocalProtocolError",
    "NeedData",
    "RemoteProtocolError",
    "Request",
    "ServerConnection",
]

PRODUCE_KEY: Final = 0
API_VERSIONS_KEY: Final = 18
OFFSET_FOR_LEADER_EPOCH_KEY: Final = 23
_SIZE = struct.Struct(">i")
_HEADER_FIXED = struct.Struct(">hhih")  # api_key, api_version, correlation_id, client_id length
_SCRATCH_BYTES = 256 * 1024
_MIN_POOLED_BYTES = 1024 * 1024  # librdkafka's default batch.size: most big requests fit in one
_MAX_POOLED_BYTES = 16 * 1024 * 1024
_MAX_SPARE_BUFFERS = 4


class RemoteProtocolError(Exception):
    """The peer sent bytes that are not a valid Kafka request: log it and close the connection."""


class LocalProtocolError(Exception):
    """We could not encode a response: a bug in brook."""


class NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()


@dataclass(slots=True)
class Request:
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body: Any  # the kio request entity; None when `unsupported_version` is set
    size: int  # frame bytes, for memory accounting
    unsupported_version: bool = False
    raw_body: bytes = b""  # kept only for requests brook answers without kio (old Produce versions)
    buffer: bytearray | None = None  # the pooled buffer under a big frame; see ServerConnection.release


class ServerConnection:
    """One client connection's protocol state. Not thread-safe; owned by the connection's task.

    Bytes arrive either through `receive_data` or, without a copy, through `get_buffer` and
    `buffer_updated` (the shape of asyncio.BufferedProtocol): small frames are read into a reused
    scratch buffer and copied out whole; a frame too big for it gets its own bytearray, and the
    socket reads the rest of that frame straight into it. A produce request's records are then
    patched (offsets, leader epoch) and written to the log from that same bytearray.
    """

    def __init__(
        self, *, max_request_bytes: int, supported: dict[int, range], scratch_bytes: int = _SCRATCH_BYTES
    ) -> None:
        self._max_request_bytes = max_request_bytes
        self._supported = supported
        self._scratch = bytearray(scratch_bytes)
        self._start = 0  # first byte of the scratch not yet framed
        self._end = 0  # end of the bytes received into the scratch
        self._frame: memoryview | None = None  # a big frame being filled by the socket directly
        self._frame_buffer: bytearray | None = None  # the pooled buffer under it
        self._frame_filled = 0
        self._frames: deque[tuple[bytearray | memoryview, bytearray | None]] = deque()
        self._spare_buffers: list[bytearray] = []
        self._error: RemoteProtocolError | None = None
        self._closed = False

    @property
    def buffered_bytes(self) -> int:
        return self._end - self._start + self._frame_filled + sum(len(f) for f, _ in self._frames)

    def receive_data(self, data: bytes) -> None:
        """Feed received bytes; b"" means the peer closed."""
        if not data:
            self._closed = True
        pos = 0
        while pos < len(data):
            buf = self.get_buffer()
            n = min(len(buf), len(data) - pos)
            buf[:n] = data[pos : pos + n]
            self.buffer_updated(n)
            pos += n

    def get_buffer(self, sizehint: int = -1) -> memoryview:
        """Where the next received bytes go (valid until `buffer_updated`)."""
        if self._frame is not None:
            return self._frame[self._frame_filled :]
        return memoryview(self._scratch)[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        """`nbytes` were written into the buffer `get_buffer` returned."""
        if self._frame is not None:
            self._frame_filled += nbytes
            if self._frame_filled == len(self._frame):
                self._frames.append((self._frame, self._frame_buffer))
                self._frame, self._frame_buffer, self._frame_filled = None, None, 0
            return
        self._end += nbytes
        self._split_frames()

    def _split_frames(self) -> None:
        scratch = self._scratch
        while self._error is None and self._end - self._start >= 4:
            (size,) = _SIZE.unpack_from(scratch, self._start)
            if size < _HEADER_FIXED.size or size > self._max_request_bytes:
                self._error = RemoteProtocolError(f"frame size {size} outside [8, {self._max_request_bytes}]")
                return
            body_start = self._start + 4
            available = self._end - body_start
            if available >= size:
                self._frames.append((scratch[body_start : body_start + size], None))
                self._start = body_start + size
                continue
            if 4 + size > len(scratch):
                # Too big for the scratch: give it its own buffer and read the rest into it directly.
                buffer = self._take_buffer(size)
                frame = memoryview(buffer)[:size]
                frame[:available] = memoryview(scratch)[body_start : self._end]
                self._frame, self._frame_buffer, self._frame_filled = frame, buffer, available
                self._start = self._end
            elif self._start + 4 + size > len(scratch):
                self._move_to_front()
            break
        if self._start == self._end:
            self._start = self._end = 0
        elif self._end == len(scratch):
            self._move_to_front()

    def _move_to_front(self) -> None:
        """Shift an incomplete frame to the scratch's start (same length: the buffer may be exported)."""
        n = self._end - self._start
        self._scratch[0:n] = self._scratch[self._start : self._end]
        self._start, self._end = 0, n

    def _take_buffer(self, size: int) -> bytearray:
        # A fresh megabyte-sized bytearray costs page faults and zeroing on every request; reuse one.
        for i, buffer in enumerate(self._spare_buffers):
            if len(buffer) >= size:
                return self._spare_buffers.pop(i)
        return bytearray(max(size, _MIN_POOLED_BYTES))

    def release(self, request: Request) -> None:
        """The request is answered and nothing refers to its frame any more: reuse its buffer."""
        buffer, request.buffer = request.buffer, None
        if (
            buffer is not None
            and len(buffer) <= _MAX_POOLED_BYTES
            and len(self._spare_buffers) < _MAX_SPARE_BUFFERS
        ):
            self._spare_buffers.append(buffer)

    def next_request(self) -> Request | NeedData:
        if self._frames:
            frame, buffer = self._frames.popleft()
            request = self._parse(frame)
            request.buffer = buffer
            return request
        if self._error is not None:
            raise self._error
        return NEED_DATA

    def _parse(self, frame: bytearray | memoryview) -> Request:
        api_key, api_version, correlation_id, client_id_len = _HEADER_FIXED.unpack_from(frame, 0)
        pos = _HEADER_FIXED.size
        client_id: str | None = None
        if client_id_len >= 0:
            if pos + client_id_len > len(frame):
                raise RemoteProtocolError("client_id runs past the frame")
            client_id = bytes(frame[pos : pos + client_id_len]).decode("utf-8", "replace")
            pos += client_id_len
        versions = self._supported.get(api_key)
        if versions is None:
            raise RemoteProtocolError(f"unknown or unsupported api_key {api_key}")
        if api_version not in versions or _needs_raw_handling(api_key, api_version):
            # KIP-511: an ApiVersions request we cannot parse still gets an answer (v0 layout).
            # Old Produce versions are advertised for old librdkafka's sake and answered by hand.
            if api_key == API_VERSIONS_KEY or api_version in versions:
                return Request(
                    api_key,
                    api_version,
                    correlation_id,
                    client_id,
                    None,
                    len(frame),
                    True,
                    bytes(frame[pos:]),
                )
            raise RemoteProtocolError(f"api_key {api_key} version {api_version} is not supported")
        try:
            if codec.is_flexible_request(api_key, api_version):
                pos = _skip_tagged_fields(frame, pos)
            if api_key == PRODUCE_KEY:
                # By hand, so the records stay views into this frame (protocol/produce.py).
                body: Any = decode_produce_request(frame, pos, api_version)
            else:
                body = codec.decode_request_body(api_key, api_version, bytes(frame), pos)
        except RemoteProtocolError:
            raise
        except Exception as exc:
            raise RemoteProtocolError(f"cannot decode api_key={api_key} v{api_version}: {exc!r}") from exc
        return Request(api_key, api_version, correlation_id, client_id, body, len(frame))

    def send_response(self, request: Request, body: Any) -> list[bytes]:
        """Frame a response: a kio entity, encoded body bytes, or a list of body chunks (hot paths)."""
        if isinstance(body, list):
            return self.frame_response(request, body)
        try:
            payload = bytes(body) if isinstance(body, bytes | bytearray) else codec.encode_body(body)
        except Exception as exc:
            raise LocalProtocolError(f"cannot encode response to api_key={request.api_key}") from exc
        return self.frame_response(request, [payload])

    def frame_response(self, request: Request, chunks: list[bytes]) -> list[bytes]:
        # Response header v1 (a tagged-field byte) for flexible versions, except ApiVersions: always v0.
        flexible = (
            request.api_key != API_VERSIONS_KEY
            and not request.unsupported_version
            and codec.is_flexible_request(request.api_key, request.api_version)
        )
        size = sum(len(c) for c in chunks) + (5 if flexible else 4)
        header = struct.pack(">ii", size, request.correlation_id) + (b"\x00" if flexible else b"")
        return [header, *chunks]


def _needs_raw_handling(api_key: int, api_version: int) -> bool:
    # OffsetForLeaderEpoch v0-1: kio has no classes for them (protocol/offset_for_leader_epoch.py)
    return (api_key == PRODUCE_KEY and api_version < 3) or (
        api_key == OFFSET_FOR_LEADER_EPOCH_KEY and api_version < 2
    )


def _read_uvarint(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int]:
    try:
        return read_uvarint(buf, pos)
    except ValueError as exc:
        raise RemoteProtocolError(f"bad unsigned varint in header: {exc}") from exc


def _skip_tagged_fields(buf: bytes | bytearray | memoryview, pos: int) -> int:
    count, pos = _read_uvarint(buf, pos)
    for _ in range(count):
        _tag, pos = _read_uvarint(buf, pos)
        size, pos = _read_uvarint(buf, pos)
        pos += size
        if pos > len(buf):
            raise RemoteProtocolError("tagged field runs past the frame")
    return pos
