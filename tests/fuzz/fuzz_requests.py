"""Coverage-guided fuzzing (atheris, libFuzzer) of the request decoder, over every advertised API/version.

Each input is one request as the broker would read it. Its first two bytes choose the shape:
- selector < 0x8000: the request header (api_key, version) is the advertised API/version at
  index `selector % count`, and the rest of the input follows the header's client_id: the header's
  tagged fields (flexible versions), then the body;
- selector >= 0x8000: the rest of the input is the whole frame after its size prefix, header
  included (unknown APIs, bad client_id lengths, unsupported versions).
The frame goes through ServerConnection exactly as bytes from a socket do. Anything but a decoded
request or RemoteProtocolError is a crash (an uncaught exception, or the process aborting, which is
what kio did on a huge count); so is request memory still reserved after the connection closes.

    python tests/fuzz/fuzz_requests.py WORK_DIR tests/fuzz/corpus -max_total_time=600
(`make fuzz`; libFuzzer writes new inputs to the first directory, reads the seeds from the second.)
"""

from __future__ import annotations

import struct
import sys

import atheris

with atheris.instrument_imports(include=["brook.protocol"]):
    from brook.protocol import codec
    from brook.protocol.connection import NEED_DATA, RemoteProtocolError, ServerConnection
    from brook.protocol.request_memory import RequestMemory

from brook.broker import handlers  # after the instrumented imports: they import brook.protocol
from brook.broker.handlers.base import REGISTRY

handlers.load_all()
SUPPORTED = {h.api_key: h.versions for h in REGISTRY.values()}
API_VERSIONS = sorted((key, v) for key, versions in SUPPORTED.items() for v in versions)
RAW = 0x8000
MAX_REQUEST_BYTES = 1 << 20
MEMORY = RequestMemory(capacity=MAX_REQUEST_BYTES, scratch_bytes=4096)


def header_for(api_key: int, version: int) -> bytes:
    """The fixed part of a request header, up to and including client_id ("f")."""
    return struct.pack(">hhih", api_key, version, 1, 1) + b"f"


def request_frame(data: bytes) -> bytes:
    """The frame (without its size prefix) an input stands for."""
    if len(data) < 2:
        return data
    (selector,) = struct.unpack_from(">H", data)
    if selector >= RAW:
        return data[2:]
    api_key, version = API_VERSIONS[selector % len(API_VERSIONS)]
    return header_for(api_key, version) + data[2:]


def test_one_input(data: bytes) -> None:
    frame = request_frame(data)
    conn = ServerConnection(max_request_bytes=MAX_REQUEST_BYTES, supported=SUPPORTED, memory=MEMORY)
    conn.receive_data(struct.pack(">i", len(frame)) + frame)
    try:
        while (request := conn.next_request()) is not NEED_DATA:
            conn.release(request)  # type: ignore[arg-type]
    except RemoteProtocolError:
        pass
    conn.close()
    if MEMORY.reserved:
        raise AssertionError(f"{MEMORY.reserved} bytes of request memory still reserved")


def main() -> None:
    assert codec.request_class(3, 9) is not None
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
