"""Coverage-guided fuzzing (atheris) of the handlers: decoded requests run against a real in-process broker.

fuzz_requests.py fuzzes the decoder; this harness goes one step further. A real Broker (single node,
embedded metadata, an ACL authorizer that allows what no ACL denies, data in a temporary directory) runs
on an event loop in this process, and every request an input decodes to is dispatched to its handler
exactly as broker/server.py does, then its response encoded with ServerConnection.send_response.

An input is one or more requests separated by SEPARATOR, each in fuzz_requests.py's shapes (a selector
choosing an advertised API/version, or a raw frame). They run in order on one connection-like channel
of a SASL listener (PLAIN and both SCRAM mechanisms), so a handshake followed by authenticate rounds is
one input. A crash is an exception out of a handler or the encoder (in the broker, a closed connection
and a logged bug). A request still parked after HANDLER_TIMEOUT_S (a long-poll Fetch, a JoinGroup
waiting for its group) is cancelled and is not a crash. Broker state (topics, groups, ACLs,
transactions) carries over between inputs, as a long-running broker's does.

    python tests/fuzz/fuzz_handlers.py WORK_DIR tests/fuzz/handler_corpus -max_total_time=600
(`make fuzz-handlers`; libFuzzer writes new inputs to the first directory, reads the seeds from the second.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: tests.fuzz.fuzz_requests

with atheris.instrument_imports(include=["brook"], exclude=["brook.testing", "brook.cli", "brook.console"]):
    from brook.broker.app import Broker
    from brook.broker.authenticator import Authenticator
    from brook.broker.config import BrokerConfig
    from brook.broker.handlers.base import REGISTRY, Session
    from brook.broker.listeners import Listener
    from brook.broker.security import ListenerSecurity
    from brook.protocol.connection import NEED_DATA, RemoteProtocolError, Request, ServerConnection

from tests.fuzz.fuzz_requests import request_frame

SEPARATOR = b"\xfe\xedNEXT"
HANDLER_TIMEOUT_S = 0.3
MAX_REQUEST_BYTES = 1 << 20
PEER = ("127.0.0.1", 40000)
PLAIN_USERS = {"alice": "alice-secret"}
SASL_LISTENER = Listener("SASL_PLAINTEXT", "127.0.0.1", 0, "SASL_PLAINTEXT")
SECURITY = ListenerSecurity(
    SASL_LISTENER, mechanisms=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"), plain_users=PLAIN_USERS
)


class FuzzChannel:
    """What handlers ask of a connection (handlers/base.py's Channel, plus what the SASL handlers use)."""

    def __init__(self, conn: ServerConnection) -> None:
        self.conn = conn
        self.authenticator = Authenticator(SECURITY)
        self.session = Session(listener_name="SASL_PLAINTEXT", security_protocol="SASL_PLAINTEXT")
        self.closing = False

    def close_after_response(self) -> None:
        self.closing = True

    def mute_for(self, delay_ms: int) -> None:
        pass

    def file_range(self, source: Any) -> None:
        return None  # the handlers read records into bytes here

    async def wait_unmuted(self) -> None:
        pass

    def writer_reached(self, task: Any) -> bool:
        return True


class ErrorLog(logging.Handler):
    """ERROR records from brook while an input runs: a handler's swallowed bug (handlers/base.py's
    error_entry logs one and answers UNKNOWN_SERVER_ERROR) is a finding too."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Harness:
    def __init__(self) -> None:
        self.data_dir = tempfile.TemporaryDirectory(prefix="brook-fuzz-handlers-")
        config = BrokerConfig.from_sources(
            None,
            [
                ("listeners", "PLAINTEXT://127.0.0.1:0"),
                ("log.dirs", self.data_dir.name),
                ("authorizer.class.name", "kafka.security.authorizer.AclAuthorizer"),
                ("allow.everyone.if.no.acl.found", "true"),
                ("brook.topic.max.partitions", "8"),
                ("offsets.topic.num.partitions", "2"),
                ("transaction.state.log.num.partitions", "2"),
                ("group.initial.rebalance.delay.ms", "0"),
            ],
        )
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.broker = Broker(config)
        self.loop.run_until_complete(self.broker.start())
        self.supported = {h.api_key: h.versions for h in REGISTRY.values()}
        self.loop.run_until_complete(self._coordinators_ready())

    async def _coordinators_ready(self) -> None:
        """Create and load __consumer_offsets and __transaction_state (FindCoordinator until both answer),
        so the transaction seeds reach the coordinator instead of NOT_COORDINATOR."""
        from brook.protocol import codec

        for key_type in (0, 1):
            cls = codec.request_class(10, 4)
            body = codec.build(cls, {"key_type": key_type, "coordinator_keys": ["fuzz-txn", "g"]})
            for _ in range(200):
                request = Request(10, 4, 1, "warm-up", body, 0)
                response = await self.broker.server.dispatch(request, PEER, None, slot_released=True)
                if all(c.error_code == 0 for c in response.coordinators):
                    break
                await asyncio.sleep(0.05)
        ready = self.broker.transactions.coordinator
        for _ in range(200):
            error, _found = ready.describe("fuzz-txn")
            if error != 16:  # NOT_COORDINATOR while its partition loads
                return
            await asyncio.sleep(0.05)

    def run(self, data: bytes) -> None:
        ERRORS.records.clear()
        self.run_requests(data)
        if ERRORS.records:
            record = ERRORS.records[0]
            raise AssertionError(f"brook logged an error: {record.getMessage()}") from (
                record.exc_info[1] if record.exc_info else None
            )

    def run_requests(self, data: bytes) -> None:
        conn = ServerConnection(max_request_bytes=MAX_REQUEST_BYTES, supported=self.supported)
        channel = FuzzChannel(conn)
        for piece in data.split(SEPARATOR)[:8]:
            if channel.closing:
                break
            frame = request_frame(piece)
            conn.receive_data(struct.pack(">i", len(frame)) + frame)
            try:
                request = conn.next_request()
            except RemoteProtocolError:
                break  # the decoder refused it: fuzz_requests.py's business
            if request is NEED_DATA:
                break
            assert isinstance(request, Request)
            if channel.authenticator.refusal(request.api_key, self.loop.time()) is not None:
                # server.py lets only ApiVersions and the SASL exchange through before authentication;
                # the fuzzer lets everything through (an authorizer sees User:ANONYMOUS).
                pass
            try:
                self.handle(request, channel)
            except RemoteProtocolError:
                break  # a body its handler decodes (OffsetForLeaderEpoch v0-1): the connection closes, logged
            finally:
                conn.release(request)
        conn.close()

    def handle(self, request: Request, channel: FuzzChannel) -> None:
        async def dispatch() -> Any:
            # as a connection starts it: a handler's synchronous path first (the common Produce), else a task
            task = self.broker.server.handle(request, PEER, channel, now=True)  # type: ignore[arg-type]
            done, _ = await asyncio.wait([task], timeout=HANDLER_TIMEOUT_S)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                return _PARKED
            return task.result()

        body = self.loop.run_until_complete(dispatch())
        if body is _PARKED or body is None:
            return
        channel.conn.send_response(request, body)  # raises on a response the encoder cannot write


_PARKED = object()
ERRORS = ErrorLog()
HARNESS: Harness | None = None


def test_one_input(data: bytes) -> None:
    assert HARNESS is not None
    HARNESS.run(data)


def main() -> None:
    global HARNESS
    root = logging.getLogger()
    root.setLevel(logging.ERROR)  # handlers log refusals at WARNING: keep the output readable
    root.addHandler(ERRORS)
    HARNESS = Harness()
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
