"""The fetch gate (`writer_reached`): a fetch waits until the responses queued before it are written. Once the
connection stops reading (client closed, broker stopping) its queue ends with a None marker; the gate must
skip it (chaos runs logged `TypeError: cannot unpack non-iterable NoneType object` from every fetch parked
then, and the connection was closed before the produce responses queued behind it were sent)."""

import asyncio
from types import SimpleNamespace

from brook.broker.server import _Connection
from brook.protocol.request_memory import RequestMemory


def test_the_gate_skips_the_end_of_reading_marker_and_still_sees_queued_tasks():
    async def scenario() -> tuple[bool, bool]:
        server = SimpleNamespace(
            max_request_bytes=1 << 20,
            supported=None,
            memory=RequestMemory(capacity=1 << 20),
            max_elements=1000,
        )
        connection = _Connection(server)  # type: ignore[arg-type]
        loop = asyncio.get_running_loop()
        never = loop.create_future()
        connection.writer = loop.create_task(asyncio.wait_for(never, 60))  # a writer still running
        earlier = loop.create_task(asyncio.sleep(0))
        fetch = loop.create_task(asyncio.sleep(0))
        connection._pending.put_nowait((object(), earlier, None))  # type: ignore[arg-type]
        connection._pending.put_nowait((object(), fetch, None))  # type: ignore[arg-type]
        connection.stop_reading()  # the None marker goes in after them
        queued = connection.writer_reached(fetch)
        connection._pending.get_nowait()
        connection._pending.get_nowait()  # the writer took both: only the marker is left
        reached = connection.writer_reached(fetch)
        connection.writer.cancel()
        await asyncio.gather(earlier, fetch)
        return queued, reached

    queued, reached = asyncio.run(scenario())
    assert queued is False
    assert reached is True
