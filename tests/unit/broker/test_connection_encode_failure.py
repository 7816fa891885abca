"""A response the codec cannot encode is a bug on our side: the connection writer logs it with the request's api
key and version and closes that one connection (it used to end the writer task silently, and the client only
saw its connection closed)."""

import asyncio
import dataclasses
import logging
import struct
from types import SimpleNamespace

from brook.broker.server import _Connection
from brook.protocol import codec
from brook.protocol.connection import Request
from brook.protocol.request_memory import RequestMemory


class _Transport:
    def __init__(self) -> None:
        self.closed = False
        self.written: list[bytes] = []

    def writelines(self, chunks: list[bytes]) -> None:
        self.written.extend(chunks)

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass


def _describe_transactions_request(connection: _Connection) -> Request:
    """A real DescribeTransactions v0 frame, parsed by the connection's own request reader."""
    body = codec.encode_body(codec.build(codec.request_class(65, 0), {"transactional_ids": ["t"]}))
    header = struct.pack(">hhih", 65, 0, 7, 1) + b"c" + b"\x00"
    frame = struct.pack(">i", len(header) + len(body)) + header + body
    buffer = connection.conn.get_buffer(len(frame))
    buffer[: len(frame)] = frame
    connection.conn.buffer_updated(len(frame))
    request = connection.conn.next_request()
    assert isinstance(request, Request)
    return request


def test_a_response_that_cannot_be_encoded_is_logged_and_closes_the_connection(caplog):
    async def scenario() -> _Transport:
        server = SimpleNamespace(
            max_request_bytes=1 << 20,
            supported={65: range(0, 1)},
            memory=RequestMemory(capacity=1 << 20),
            max_elements=1000,
            memory_released=lambda: None,
            forget=lambda connection: None,
            request_metrics=SimpleNamespace(record=lambda *args: None),
        )
        connection = _Connection(server)  # type: ignore[arg-type]
        transport = _Transport()
        connection.transport = transport  # type: ignore[assignment]
        request = _describe_transactions_request(connection)
        entry = {
            "error_code": 0,
            "transactional_id": "t",
            "transaction_state": "Empty",
            "transaction_start_time": 0,
        }
        body = codec.build(codec.response_class(65, 0), {"transaction_states": [entry]})
        state = dataclasses.replace(body.transaction_states[0], transaction_start_time=None)  # not nullable
        broken = dataclasses.replace(body, transaction_states=(state,))
        loop = asyncio.get_running_loop()
        task = loop.create_future()
        task.set_result(broken)
        connection._queued += 1
        connection._enqueue((request, task, None))  # type: ignore[arg-type]
        connection.stop_reading()
        await asyncio.wait_for(connection._write_responses(), 10)
        return transport

    with caplog.at_level(logging.ERROR, logger="brook.broker.server"):
        transport = asyncio.run(scenario())
    assert transport.closed
    assert transport.written == []
    assert any(
        "cannot encode the response to api_key=65 v0" in record.getMessage() for record in caplog.records
    )
