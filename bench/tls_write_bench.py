"""The broker's TLS cost of writing one fetch response, without sockets or clients (so other load on the
machine barely moves it): a response of a header, two 1 MiB partitions and small pieces between, encrypted
through a memory-BIO SSLObject the way asyncio's SSL transport does it (SSLObject.write per item of a
writelines list, then one read of the outgoing BIO), joined into one buffer first or as brook writes it now
(broker/tls.py's coalesce_for_tls: small chunks joined, big ones as they are).

    python bench/tls_write_bench.py
"""

from __future__ import annotations

import ssl
import sys
import tempfile
import time
from pathlib import Path

from brook.broker.tls import coalesce_for_tls
from brook.testing.security import TestPki

CHUNKS = [b"h" * 13, b"t" * 40, bytes(1024 * 1024), b"p" * 60, bytes(1024 * 1024)]


def _pair() -> tuple[ssl.SSLObject, ssl.MemoryBIO]:
    pki = TestPki(Path(tempfile.mkdtemp(prefix="brook-tls-bench-")))
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.broker.cert, pki.broker.key)
    client_context = ssl.create_default_context(cafile=str(pki.ca))
    s_in, s_out, c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    server = server_context.wrap_bio(s_in, s_out, server_side=True)
    client = client_context.wrap_bio(c_in, c_out, server_hostname="127.0.0.1")
    for _ in range(10):  # the handshake, bytes passed by hand
        for side in (client, server):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    return server, s_out


def _ms_per_response(
    server: ssl.SSLObject, outgoing: ssl.MemoryBIO, joined: bool, rounds: int = 200
) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for item in [b"".join(CHUNKS)] if joined else coalesce_for_tls(CHUNKS):
            server.write(item)
        outgoing.read()
    return (time.perf_counter() - start) / rounds * 1000


def main() -> int:
    server, outgoing = _pair()
    joined = min(_ms_per_response(server, outgoing, True) for _ in range(3))
    coalesced = min(_ms_per_response(server, outgoing, False) for _ in range(3))
    print(f"TLS write of a 2 MiB fetch response: joined {joined:.2f} ms, coalesced {coalesced:.2f} ms")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
