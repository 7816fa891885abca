"""A connection's response order and the Fetch's turn (server.py `_Connection`).

Responses leave in request order. A Fetch starts (reads the log) only once the writer has handed every
earlier response on its connection to the socket: the writer resolves the Fetch's turn when it reaches
it, with no polling. Driven here with real request frames, a recording transport and a server whose
handlers the test releases one by one."""

import asyncio
import struct
from types import SimpleNamespace
from typing import Any

from brook.broker.server import _Connection
from brook.protocol.client import encode_request
from brook.protocol.request_memory import RequestMemory

_METADATA_FRAME = encode_request(3, 4, 1, "t", {"topics": []})
_SECOND_METADATA_FRAME = encode_request(3, 4, 3, "t", {"topics": []})
_FETCH_FRAME = encode_request(
    1,
    11,
    2,
    "t",
    {"replica_id": -1, "max_wait": 0, "min_bytes": 1, "max_bytes": 1024, "topics": []},
)


class _Transport:
    def __init__(self) -> None:
        self.calls: list[list[int]] = []  # per write: the correlation ids of the responses in it
        self.closed = False

    @property
    def writes(self) -> list[int]:
        return [cid for call in self.calls for cid in call]

    def get_extra_info(self, name: str) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else None

    def set_write_buffer_limits(self, high: int) -> None:
        pass

    def writelines(self, chunks: list[bytes]) -> None:
        data, pos, ids = b"".join(chunks), 0, []
        while pos < len(data):
            size, correlation_id = struct.unpack_from(">ii", data, pos)
            ids.append(correlation_id)
            pos += 4 + size
        self.calls.append(ids)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class _Server:
    """What _Connection asks of its server; each handler waits until the test releases its api key."""

    def __init__(self, transport: _Transport) -> None:
        self.max_request_bytes = 1 << 20
        self.supported = {1: range(0, 13), 3: range(0, 13)}
        self.memory = RequestMemory(capacity=1 << 20)
        self.max_elements = 1000
        self._stopping = False
        self.broker = SimpleNamespace(
            stats=SimpleNamespace(connections_accepted=0, accepted_on=lambda listener: None)
        )
        self.request_metrics = SimpleNamespace(record=lambda *args: None)
        self.release: dict[int, asyncio.Future[None]] = {}
        self.started: list[tuple[int, list[int]]] = []  # (api key, responses written when it started)
        self.transport = transport

    def admit(self, connection: object) -> bool:
        return True

    def forget(self, connection: object) -> None:
        pass

    def try_take_slot(self, connection: object) -> bool:
        return True

    def release_slot(self) -> None:
        pass

    def memory_released(self) -> None:
        pass

    def handle(self, request: Any, peer: Any, channel: Any, *, now: bool) -> asyncio.Future[bytes]:
        return asyncio.get_running_loop().create_task(self.dispatch(request, peer, channel))

    async def dispatch(self, request: Any, peer: Any, channel: Any, slot_released: bool = False) -> bytes:
        self.started.append((request.api_key, list(self.transport.writes)))
        await self.release.setdefault(request.api_key, asyncio.get_running_loop().create_future())
        return b"\x00\x00"


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def _open() -> tuple[_Connection, _Server, _Transport]:
    transport = _Transport()
    server = _Server(transport)
    connection = _Connection(server)  # type: ignore[arg-type]
    connection.connection_made(transport)  # type: ignore[arg-type]
    return connection, server, transport


def _receive(connection: _Connection, data: bytes) -> None:
    buffer = connection.get_buffer(len(data))
    buffer[: len(data)] = data
    connection.buffer_updated(len(data))


def test_a_fetch_starts_only_after_the_response_before_it_is_written():
    async def scenario() -> tuple[list[tuple[int, list[int]]], list[tuple[int, list[int]]], list[int]]:
        connection, server, transport = _open()
        _receive(connection, _METADATA_FRAME + _FETCH_FRAME)
        await _settle()
        before = list(server.started)  # the Metadata handler runs; the Fetch waits for its turn
        server.release[3].set_result(None)
        await _settle()
        server.release[1].set_result(None)
        await _settle()
        connection.stop_reading()
        assert connection.writer is not None
        await asyncio.wait_for(connection.writer, 10)
        return before, server.started, transport.writes

    before, started, writes = asyncio.run(scenario())
    assert before == [(3, [])]
    assert started == [(3, []), (1, [1])]  # the Fetch started once response 1 was written
    assert writes == [1, 2]


def test_a_fetch_waiting_for_its_turn_is_released_when_the_writer_ends_early():
    """The writer's task ends without reaching the Fetch (cancelled at shutdown): the Fetch must not wait
    forever for a turn that never comes."""

    async def scenario() -> list[tuple[int, list[int]]]:
        connection, server, _ = _open()
        _receive(connection, _METADATA_FRAME + _FETCH_FRAME)
        await _settle()
        assert connection.writer is not None
        connection.writer.cancel()
        await asyncio.gather(connection.writer, return_exceptions=True)
        await _settle()
        return server.started

    started = asyncio.run(scenario())
    assert [api_key for api_key, _ in started] == [3, 1]


def test_responses_ready_together_go_out_in_one_write_in_request_order():
    async def scenario() -> list[list[int]]:
        connection, server, transport = _open()
        server.release[3] = asyncio.get_running_loop().create_future()
        server.release[3].set_result(None)  # both handlers finish at once
        _receive(connection, _METADATA_FRAME + _SECOND_METADATA_FRAME + _FETCH_FRAME)
        await _settle()
        server.release[1].set_result(None)
        await _settle()
        connection.stop_reading()
        assert connection.writer is not None
        await asyncio.wait_for(connection.writer, 10)
        return transport.calls

    assert asyncio.run(scenario()) == [[1, 3], [2]]  # the Fetch starts only after that write
