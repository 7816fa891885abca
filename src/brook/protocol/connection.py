"""Sans-IO server side of a Kafka connection: bytes in, decoded requests out, framed responses back.

Owns framing (int32 size prefix), request headers v1/v2, response headers v0/v1. Knows no sockets:
the broker feeds it bytes with `receive_data` and writes what `send_response` returns.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass
from typing import Any, Final

from brook.protocol import codec, legacy
from brook.protocol.bounds import MAX_ELEMENTS
from brook.protocol.produce import decode_produce_request
from brook.protocol.request_memory import RequestMemory
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
SASL_AUTHENTICATE_KEY: Final = 36
OFFSET_FOR_LEADER_EPOCH_KEY: Final = 23
_SIZE = struct.Struct(">i")
_HEADER_FIXED = struct.Struct(">hhih")  # api_key, api_version, correlation_id, client_id length
_SCRATCH_BYTES = 64 * 1024
_GROW_MIN_BYTES = 256 * 1024  # a big frame's buffer starts here (or at the frame's size) and doubles
_PARK_BYTES = 4096  # a partial frame this small is copied out so the scratch buffer can be given back


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
    raw_body: bytes = b""  # requests answered by hand: unknown ApiVersions, OffsetForLeaderEpoch v0-1
    legacy: bool = False  # an old version kio lacks, decoded (and answered) by protocol/legacy.py
    buffer: bytearray | None = None  # the buffer under a big frame; see ServerConnection.release
    reserved: int = 0  # bytes reserved in the request memory pool until the request is released
    raw_token: bool = False  # a SASL token without a Kafka header (after SaslHandshake v0); body.auth_bytes
    # time.monotonic_ns() stamps the broker takes for the request metrics (broker/request_metrics.py)
    received_ns: int = 0  # parsed off the connection
    started_ns: int = 0  # its handler started
    done_ns: int = 0  # its handler returned the response
    remote_ns: int = 0  # time its handler spent parked (acks=all, long-poll fetch, rebalance)
    throttle_ms: int = 0  # the throttle time its response carries (client quotas)
    # error code -> occurrences in its response, noted by handlers that encode their response by hand
    error_counts: dict[int, int] | None = None
    # a Produce whose appends are in order: it holds its append turns, or it appended at once (broker/server.py)
    turns_taken: bool = False


class ServerConnection:
    """One client connection's protocol state. Not thread-safe; owned by the connection's task.

    Bytes arrive either through `receive_data` or, without a copy, through `get_buffer` and
    `buffer_updated` (the shape of asyncio.BufferedProtocol). Memory comes from the broker-wide
    RequestMemory (protocol/request_memory.py): small frames are read into a scratch buffer taken only
    while this connection has unframed bytes, and copied out whole; a frame too big for it is reserved
    against the request memory pool, then read straight into its own buffer, which grows as the bytes
    arrive (never sized from the prefix alone). A produce request's records are patched (offsets,
    leader epoch) and written to the log from that same buffer. While the pool cannot take a big
    frame, `memory_blocked` is set: the caller stops reading and calls `retry_memory` once a request
    is released.
    """

    def __init__(
        self,
        *,
        max_request_bytes: int,
        supported: dict[int, range],
        scratch_bytes: int = _SCRATCH_BYTES,
        memory: RequestMemory | None = None,
        max_elements: int = MAX_ELEMENTS,
    ) -> None:
        self._max_request_bytes = max_request_bytes
        self._max_elements = max_elements
        self.raw_tokens = False  # after SaslHandshake v0 until authenticated: frames are bare SASL tokens
        self._supported = supported
        self._memory = memory or RequestMemory(capacity=max_request_bytes, scratch_bytes=scratch_bytes)
        self._scratch: bytearray | None = None  # held only while there are unframed bytes
        self._start = 0  # first byte of the scratch not yet framed
        self._end = 0  # end of the bytes received into the scratch
        self._parked = b""  # a small partial frame kept while the scratch is given back
        self._frame_buffer: bytearray | None = None  # a big frame being filled by the socket directly
        self._frame_size = 0
        self._frame_filled = 0
        # complete frames not yet parsed: (frame, buffer under it, bytes reserved for it)
        self._frames: deque[tuple[bytearray | memoryview, bytearray | None, int]] = deque()
        self._memory_blocked = False
        self._error: RemoteProtocolError | None = None
        self._closed = False

    @property
    def buffered_bytes(self) -> int:
        return (
            self._end
            - self._start
            + len(self._parked)
            + self._frame_filled
            + sum(len(f) for f, _, _ in self._frames)
        )

    @property
    def memory_blocked(self) -> bool:
        """A big frame's prefix arrived but the request memory pool is full: stop reading."""
        return self._memory_blocked

    def limit_request_bytes(self, max_request_bytes: int) -> None:
        """A new frame size limit (a SASL connection before authentication: sasl.server.max.receive.size)."""
        self._max_request_bytes = max_request_bytes

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
        if self._frame_buffer is not None:
            if self._frame_filled == len(self._frame_buffer):
                self._grow_frame()
            return memoryview(self._frame_buffer)[self._frame_filled : self._frame_size]
        scratch = self._take_scratch()
        return memoryview(scratch)[self._end :]

    def buffer_updated(self, nbytes: int) -> None:
        """`nbytes` were written into the buffer `get_buffer` returned."""
        if self._frame_buffer is not None:
            self._frame_filled += nbytes
            if self._frame_filled == self._frame_size:
                buffer = self._frame_buffer
                self._frames.append((memoryview(buffer)[: self._frame_size], buffer, self._frame_size))
                self._frame_buffer, self._frame_size, self._frame_filled = None, 0, 0
            return
        self._end += nbytes
        self._split_frames()

    def retry_memory(self) -> None:
        """Request memory was released: try again to take the big frame that was waiting for it."""
        if self._memory_blocked:
            self._memory_blocked = False
            self._take_scratch()
            self._split_frames()

    def close(self) -> None:
        """The connection is gone: give back what its unanswered frames hold (answered ones: `release`)."""
        if self._frame_buffer is not None:
            self._memory.release(self._frame_size)
            self._frame_buffer, self._frame_size, self._frame_filled = None, 0, 0
        while self._frames:
            _, _, reserved = self._frames.popleft()
            self._memory.release(reserved)
        if self._scratch is not None:
            self._memory.give_scratch(self._scratch)
            self._scratch = None
        self._start = self._end = 0
        self._parked = b""
        self._memory_blocked = False
        self._closed = True

    def _take_scratch(self) -> bytearray:
        if self._scratch is None:
            self._scratch = self._memory.take_scratch()
            n = len(self._parked)
            self._scratch[:n] = self._parked
            self._start, self._end, self._parked = 0, n, b""
        return self._scratch

    def _split_frames(self) -> None:
        scratch = self._scratch
        assert scratch is not None
        while self._error is None and self._end - self._start >= 4:
            (size,) = _SIZE.unpack_from(scratch, self._start)
            if size < (0 if self.raw_tokens else _HEADER_FIXED.size) or size > self._max_request_bytes:
                self._error = RemoteProtocolError(f"frame size {size} outside [8, {self._max_request_bytes}]")
                break
            body_start = self._start + 4
            available = self._end - body_start
            if available >= size:
                self._frames.append((scratch[body_start : body_start + size], None, 0))
                self._start = body_start + size
                continue
            if 4 + size > len(scratch):
                # Too big for the scratch: reserve it, then read the rest into its own buffer directly.
                if not self._memory.try_reserve(size):
                    self._memory_blocked = True
                    break
                buffer = self._memory.take_spare(size) or bytearray(
                    min(size, max(available, _GROW_MIN_BYTES))
                )
                buffer[:available] = memoryview(scratch)[body_start : self._end]
                self._frame_buffer, self._frame_size, self._frame_filled = buffer, size, available
                self._start = self._end
            elif self._start + 4 + size > len(scratch):
                self._move_to_front()
            break
        self._settle_scratch()

    def _settle_scratch(self) -> None:
        """Give the scratch back when it holds nothing (or only a few bytes, which are kept aside)."""
        scratch = self._scratch
        assert scratch is not None
        held = self._end - self._start
        if held <= _PARK_BYTES:
            self._parked = bytes(scratch[self._start : self._end])
            self._memory.give_scratch(scratch)
            self._scratch = None
            self._start = self._end = 0
        elif self._end == len(scratch):
            self._move_to_front()

    def _grow_frame(self) -> None:
        """The big frame's buffer is full but the frame is not: double it (up to the frame's size)."""
        old = self._frame_buffer
        assert old is not None
        grown = bytearray(min(self._frame_size, 2 * len(old)))
        grown[: self._frame_filled] = old[: self._frame_filled]
        self._frame_buffer = grown

    def _move_to_front(self) -> None:
        """Shift an incomplete frame to the scratch's start (same length: the buffer may be exported)."""
        assert self._scratch is not None
        n = self._end - self._start
        self._scratch[0:n] = self._scratch[self._start : self._end]
        self._start, self._end = 0, n

    def release(self, request: Request) -> None:
        """The request is answered and nothing refers to its frame any more: free its memory."""
        buffer, request.buffer = request.buffer, None
        reserved, request.reserved = request.reserved, 0
        if reserved:
            self._memory.release(reserved)
        if buffer is not None:
            self._memory.give_spare(buffer)

    def next_request(self) -> Request | NeedData:
        if self._frames:
            frame, buffer, reserved = self._frames.popleft()
            try:
                request = self._raw_token(frame) if self.raw_tokens else self._parse(frame)
            except RemoteProtocolError:
                self._memory.release(reserved)
                raise
            request.buffer, request.reserved = buffer, reserved
            return request
        if self._error is not None:
            raise self._error
        return NEED_DATA

    def _raw_token(self, frame: bytearray | memoryview) -> Request:
        """SaslHandshake v0 framing: the next frames are bare SASL tokens, answered as bare tokens; they are
        handed on as SaslAuthenticate v0 requests marked raw_token."""
        token = bytes(frame)
        return Request(SASL_AUTHENTICATE_KEY, 0, 0, None, _RawToken(token), len(frame), raw_token=True)

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
        if legacy.has_request(api_key, api_version):
            try:
                old = legacy.decode_request(api_key, api_version, frame, pos, self._max_elements)
            except legacy.LegacyDecodeError as exc:
                raise RemoteProtocolError(f"cannot decode api_key={api_key} v{api_version}: {exc}") from exc
            return Request(api_key, api_version, correlation_id, client_id, old, len(frame), legacy=True)
        try:
            if codec.is_flexible_request(api_key, api_version):
                pos = _skip_tagged_fields(frame, pos)
            if api_key == PRODUCE_KEY:
                # By hand, so the records stay views into this frame (protocol/produce.py).
                body: Any = decode_produce_request(frame, pos, api_version, self._max_elements)
            else:
                body = codec.decode_request_body(api_key, api_version, bytes(frame), pos, self._max_elements)
        except RemoteProtocolError:
            raise
        except Exception as exc:
            raise RemoteProtocolError(f"cannot decode api_key={api_key} v{api_version}: {exc!r}") from exc
        return Request(api_key, api_version, correlation_id, client_id, body, len(frame))

    def send_response(self, request: Request, body: Any) -> list[Any]:
        """Frame a response: a kio entity, encoded body bytes, or a list of body chunks (hot paths: bytes,
        or chunks the broker's connection sends from files, whose len() is their size)."""
        if request.raw_token:  # a bare SASL token: size prefix, no header
            return [struct.pack(">i", len(body)), bytes(body)]
        if isinstance(body, list):
            return self.frame_response(request, body)
        try:
            payload = bytes(body) if isinstance(body, bytes | bytearray) else codec.encode_body(body)
        except Exception as exc:
            raise LocalProtocolError(f"cannot encode response to api_key={request.api_key}") from exc
        return self.frame_response(request, [payload])

    def frame_response(self, request: Request, chunks: list[Any]) -> list[Any]:
        # Response header v1 (a tagged-field byte) for flexible versions, except ApiVersions: always v0.
        flexible = (
            request.api_key != API_VERSIONS_KEY
            and not request.unsupported_version
            and not request.legacy
            and codec.is_flexible_request(request.api_key, request.api_version)
        )
        size = sum(len(c) for c in chunks) + (5 if flexible else 4)
        header = struct.pack(">ii", size, request.correlation_id) + (b"\x00" if flexible else b"")
        return [header, *chunks]


@dataclass(slots=True)
class _RawToken:
    auth_bytes: bytes


def _needs_raw_handling(api_key: int, api_version: int) -> bool:
    # OffsetForLeaderEpoch v0-1: kio has no classes for them (protocol/offset_for_leader_epoch.py)
    return api_key == OFFSET_FOR_LEADER_EPOCH_KEY and api_version < 2


def _read_uvarint(buf: bytes | bytearray | memoryview, pos: int) -> tuple[int, int]:
    try:
        return read_uvarint(buf, pos)
    except ValueError as exc:
        raise RemoteProtocolError(f"bad unsigned varint in header: {exc}") from exc


def _skip_tagged_fields(buf: bytes | bytearray | memoryview, pos: int) -> int:
    if pos < len(buf) and buf[pos] == 0:  # none: what every client sends
        return pos + 1
    count, pos = _read_uvarint(buf, pos)
    for _ in range(count):
        _tag, pos = _read_uvarint(buf, pos)
        size, pos = _read_uvarint(buf, pos)
        pos += size
        if pos > len(buf):
            raise RemoteProtocolError("tagged field runs past the frame")
    return pos
