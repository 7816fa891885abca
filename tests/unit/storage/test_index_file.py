"""Indexes without descriptors (index.py): entries in memory, written on flush, re-read after unload."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from brook.storage.index import OffsetIndex, TimeIndex


def entries_on_disk(path: Path) -> list[tuple[int, int]]:
    data = path.read_bytes()
    return [struct.unpack_from(">ii", data, i) for i in range(0, len(data), 8)]


def test_flush_writes_only_whole_entries_and_follows_truncation(tmp_path: Path) -> None:
    path = tmp_path / "00000000000000000100.index"
    index = OffsetIndex(path, 100, 1 << 20)
    index.assume_empty()
    for i in range(1, 6):
        index.append(100 + i, i * 1000)
    assert not path.exists()  # nothing written before a flush: no descriptor, no file
    index.flush()
    assert entries_on_disk(path) == [(i, i * 1000) for i in range(1, 6)]
    index.truncate_to(103)
    index.append(110, 9000)
    index.flush()
    assert entries_on_disk(path) == [(1, 1000), (2, 2000), (10, 9000)]
    index.reset()
    index.flush()
    assert path.stat().st_size == 0


def test_stale_bytes_are_cut_at_the_first_write(tmp_path: Path) -> None:
    path = tmp_path / "00000000000000000000.index"
    path.write_bytes(os.urandom(8 * 7 + 3))
    index = OffsetIndex(path, 0, 1 << 20)
    index.assume_empty()  # an empty segment: its index is not even read
    index.append(5, 500)
    index.flush()
    assert entries_on_disk(path) == [(5, 500)]


def test_unload_keeps_what_is_not_written_and_reloads_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "00000000000000000000.timeindex"
    index = TimeIndex(path, 0, 1 << 20)
    index.assume_empty()
    index.maybe_append(1000, 3)
    index.maybe_append(2000, 7)
    assert index.unload() is False  # dirty: dropping it would lose entries
    index.flush()
    assert index.unload() is True
    assert not index.loaded
    assert index.lookup(1500) == (1000, 3)  # read back from the file on first use
    assert index.last_entry() == (2000, 7)
    assert index.loaded


def test_a_torn_file_loads_whole_entries_and_is_repaired_on_flush(tmp_path: Path) -> None:
    path = tmp_path / "00000000000000000000.index"
    path.write_bytes(struct.pack(">ii", 1, 100) + struct.pack(">ii", 2, 200) + b"\x01\x02")
    index = OffsetIndex(path, 0, 1 << 20)
    assert index.entries == 2
    assert index.torn_at_open
    index.flush()
    assert entries_on_disk(path) == [(1, 100), (2, 200)]
