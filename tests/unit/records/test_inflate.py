"""zstd contexts are kept between batches (records/inflate.py): whatever happened to the batch before, on this
thread or another, the next one inflates to exactly its records."""

from __future__ import annotations

import os
import threading

import pytest
import zstandard

from brook.common.errors import CorruptMessage, MessageTooLarge
from brook.records import inflate
from brook.records.batch import Compression
from brook.records.inflate import CHUNK_BYTES, inflate_chunks


def _frame(data: bytes) -> bytes:
    """Framed like the Java client's zstd-jni stream: no content size in the header."""
    return zstandard.ZstdCompressor(level=3, write_content_size=False).compress(data)


def _inflate(data: bytes, max_bytes: int = 1 << 30) -> bytes:
    return b"".join(inflate_chunks(Compression.zstd, data, max_bytes))


def test_a_batch_inflates_with_a_kept_context_and_gives_it_back():
    inflate._idle_zstd.clear()
    first, second = os.urandom(5000) * 3, os.urandom(7000) * 2
    assert _inflate(_frame(first)) == first
    kept = list(inflate._idle_zstd)
    assert len(kept) == 1
    assert _inflate(_frame(second)) == second
    assert inflate._idle_zstd == kept  # the same context, taken and given back


def test_two_streams_inflating_at_once_on_one_thread_stay_apart():
    a, b = os.urandom(3 * CHUNK_BYTES + 11), os.urandom(2 * CHUNK_BYTES + 5)
    ga, gb = (
        inflate_chunks(Compression.zstd, _frame(a), 1 << 30),
        inflate_chunks(Compression.zstd, _frame(b), 1 << 30),
    )
    streams, outs = [ga, gb], [bytearray(), bytearray()]
    live = [0, 1]
    while live:  # alternate chunk by chunk: each generator holds its own context meanwhile
        for i in list(live):
            chunk = next(streams[i], None)
            if chunk is None:
                live.remove(i)
            else:
                outs[i] += chunk
    out_a, out_b = outs
    assert (bytes(out_a), bytes(out_b)) == (a, b)
    assert len(inflate._idle_zstd) <= inflate._IDLE_ZSTD_KEPT


def test_the_batch_after_a_damaged_or_too_large_stream_inflates_whole():
    good = os.urandom(10_000) * 4
    damaged = bytearray(_frame(os.urandom(20_000) * 5))
    damaged[len(damaged) // 2 :] = os.urandom(len(damaged) - len(damaged) // 2)
    with pytest.raises(CorruptMessage):
        _inflate(bytes(damaged))
    assert _inflate(_frame(good)) == good
    with pytest.raises(MessageTooLarge):  # stops mid-stream: that generator never finishes
        _inflate(_frame(bytes(4 * CHUNK_BYTES)), max_bytes=CHUNK_BYTES)
    assert _inflate(_frame(good)) == good


def test_threads_inflating_side_by_side_each_get_their_own_records():
    payloads = [os.urandom(1000 + 97 * i) * 3 for i in range(8)]
    frames = [_frame(p) for p in payloads]
    wrong: list[int] = []

    def work() -> None:
        for _ in range(200):
            for i, frame in enumerate(frames):
                if _inflate(frame) != payloads[i]:
                    wrong.append(i)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert wrong == []
    assert len(inflate._idle_zstd) <= inflate._IDLE_ZSTD_KEPT
