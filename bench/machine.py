"""The machine's own limits, measured in the same run as the brokers: loopback TCP and sequential disk.

They say how close to the hardware a figure is: a broker cannot produce faster than the client can
push bytes through loopback, nor persist faster than the disk writes sequentially.
"""

from __future__ import annotations

import os
import socket
import statistics
import tempfile
import threading
import time

__all__ = ["disk_write_mb_s", "limits", "loopback_mb_s"]

MIB = 1024 * 1024


def loopback_mb_s(total_bytes: int) -> float:
    """One TCP connection on 127.0.0.1, 1 MiB sends, a reader thread draining it."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    received = 0

    def drain() -> None:
        nonlocal received
        conn, _ = server.accept()
        buf = bytearray(MIB)
        while n := conn.recv_into(buf):
            received += n
        conn.close()

    reader = threading.Thread(target=drain)
    reader.start()
    chunk = os.urandom(MIB)
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as client:
        for _ in range(total_bytes // MIB):
            client.sendall(chunk)
    reader.join()
    elapsed = time.perf_counter() - start
    server.close()
    return received / elapsed / 1e6


def disk_write_mb_s(total_bytes: int, *, fsync: bool) -> float:
    """Sequential 1 MiB writes to a new file in the temp dir (where brook keeps its data here)."""
    chunk = os.urandom(MIB)
    with tempfile.NamedTemporaryFile(prefix="bench-disk-") as f:
        fd = f.fileno()
        start = time.perf_counter()
        for _ in range(total_bytes // MIB):
            os.write(fd, chunk)
        if fsync:
            os.fsync(fd)
        elapsed = time.perf_counter() - start
    return total_bytes / elapsed / 1e6


def limits(total_bytes: int) -> dict[str, float]:
    """Loopback and disk, the median of three each: the page cache's writeback makes single figures jump."""
    return {
        "loopback TCP MB/s": statistics.median(loopback_mb_s(total_bytes) for _ in range(3)),
        "disk write MB/s (no fsync)": statistics.median(
            disk_write_mb_s(total_bytes, fsync=False) for _ in range(3)
        ),
        "disk write MB/s (fsync at end)": statistics.median(
            disk_write_mb_s(total_bytes, fsync=True) for _ in range(3)
        ),
    }
