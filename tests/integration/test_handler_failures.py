"""A bug in a handler or in a response the encoder cannot write closes that one connection, logged with the
API key, version and client address; the broker keeps serving everyone else.

The broker runs in this process (a real Broker on a real socket) so a test can swap one handler for a
broken one; the client is a plain socket. (Once DescribeTransactions built a null timestamp the encoder
refused, and the connection closed with no log line at all.)
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import struct
from pathlib import Path
from typing import Any

import pytest

from brook.broker import handlers
from brook.broker.handlers.base import REGISTRY, Handler, RequestContext
from brook.protocol import codec
from tests.integration.helpers import in_process_broker

DESCRIBE_TRANSACTIONS = 65
handlers.load_all()


def _frame(correlation_id: int) -> bytes:
    body = codec.encode_body(codec.build(codec.request_class(65, 0), {"transactional_ids": ["t"]}))
    header = struct.pack(">hhih", DESCRIBE_TRANSACTIONS, 0, correlation_id, 1) + b"c" + b"\x00"
    return struct.pack(">i", len(header) + len(body)) + header + body


def _api_versions_frame() -> bytes:
    header = struct.pack(">hhih", 18, 0, 99, 1) + b"c"
    return struct.pack(">i", len(header)) + header


async def _closed_without_answer(port: int, data: bytes) -> tuple[bytes, tuple[str, int]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    local = writer.get_extra_info("sockname")
    writer.write(data)
    received = await asyncio.wait_for(reader.read(), timeout=30)  # until EOF
    writer.close()
    return received, local


async def _api_versions_answered(port: int) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_api_versions_frame())
    size = struct.unpack(">i", await asyncio.wait_for(reader.readexactly(4), timeout=30))[0]
    response = await reader.readexactly(size)
    writer.close()
    return struct.unpack_from(">ih", response) == (99, 0)


async def _run(data_dir: Path, data: bytes) -> tuple[bytes, tuple[str, int], bool]:
    async with in_process_broker(data_dir) as broker:
        received, local = await _closed_without_answer(broker.bound_port, data)
        return received, local, await _api_versions_answered(broker.bound_port)


def _swap_handler(monkeypatch: pytest.MonkeyPatch, func: Any) -> None:
    original = REGISTRY[DESCRIBE_TRANSACTIONS]
    monkeypatch.setitem(REGISTRY, DESCRIBE_TRANSACTIONS, Handler(original.api_key, original.versions, func))


def test_a_handler_that_raises_closes_only_its_connection_and_is_logged(
    tmp_path, monkeypatch, caplog
) -> None:
    async def broken(ctx: RequestContext, req: Any) -> Any:
        raise RuntimeError("a bug in a handler")

    _swap_handler(monkeypatch, broken)
    with caplog.at_level(logging.ERROR, logger="brook.broker.server"):
        received, local, others_served = asyncio.run(_run(tmp_path, _frame(41)))
    assert received == b""
    assert others_served
    (record,) = [r for r in caplog.records if "handler failed" in r.getMessage()]
    assert record.getMessage() == f"handler failed api_key=65 v0 peer={local!r}; closing connection"
    assert record.exc_info is not None
    assert "a bug in a handler" in str(record.exc_info[1])


def test_a_response_the_encoder_refuses_closes_only_its_connection_and_is_logged(
    tmp_path, monkeypatch, caplog
) -> None:
    async def unencodable(ctx: RequestContext, req: Any) -> Any:
        state = {
            "error_code": 0,
            "transactional_id": "t",
            "transaction_state": "Empty",
            "transaction_timeout": 0,
            "transaction_start_time": datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC),
            "producer_id": -1,
            "producer_epoch": -1,
            "topics": [],
        }
        response = ctx.respond(throttle_time=0, transaction_states=[state])
        object.__setattr__(response.transaction_states[0], "transaction_start_time", None)  # not nullable
        return response

    _swap_handler(monkeypatch, unencodable)
    with caplog.at_level(logging.ERROR, logger="brook.broker.server"):
        received, local, others_served = asyncio.run(_run(tmp_path, _frame(42)))
    assert received == b""
    assert others_served
    (record,) = [r for r in caplog.records if "cannot encode the response" in r.getMessage()]
    assert record.getMessage() == (
        f"cannot encode the response to api_key=65 v0 peer={local!r}; closing connection"
    )
