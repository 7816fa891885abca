"""LZ4 as Kafka frames it: brook's lz4 batches (a topic's compression.type=lz4, the CLI producer) must be readable by
the Java client, whose Lz4BlockInputStream refuses linked blocks and block sizes outside 64 KiB..4 MiB."""

from __future__ import annotations

import os

from brook.records.batch import Compression
from brook.records.records import compress, decompress

_MAGIC = bytes.fromhex("04224d18")


def test_lz4_frames_have_independent_64k_blocks_and_no_checksums_like_kafkas():
    data = os.urandom(1000) * 300  # several 64 KiB blocks
    framed = compress(Compression.lz4, data)
    assert framed[:4] == _MAGIC
    flg, bd = framed[4], framed[5]
    assert flg >> 6 == 1  # version 01
    assert (
        flg & 0b0010_0000
    )  # block independence: Kafka's reader throws "Dependent block stream is unsupported"
    assert not flg & 0b0001_0000  # no block checksum
    assert not flg & 0b0000_1000  # no content size
    assert not flg & 0b0000_0100  # no content checksum
    assert not flg & 0b0000_0011  # reserved
    assert bd == 4 << 4  # 64 KiB blocks (Kafka's BLOCKSIZE_64KB)
    assert decompress(Compression.lz4, framed) == data
    assert decompress(Compression.lz4, compress(Compression.lz4, b"")) == b""
