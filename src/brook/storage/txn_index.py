"""The aborted-transaction index: one `<base_offset>.txnindex` file per segment (Kafka's TransactionIndex).

Each aborted transaction whose ABORT marker lies in the segment is one 34-byte entry, big-endian, in
marker order (Kafka's AbortedTxn):

    0  version             int16   0
    2  producer_id         int64
    10 first_offset        int64   the transaction's first record
    18 last_offset         int64   its ABORT marker
    26 last_stable_offset  int64   the partition's LSO once this transaction completed

Written when an ABORT marker is appended (leader or follower), not fsynced on its own: the segment's
flush syncs it. A file may end in a torn entry (a crash mid-write): the partial entry is ignored on load.
The partition rebuilds the entries from the log whenever it replays its producer state (no producer
snapshot: an unclean shutdown, or a truncation it cannot undo exactly), so a lost write is redone
(`replace_from`). A read_committed fetch collects the entries overlapping what it may read
(`collect`), from the segment holding its fetch offset on: markers come after their records, so an
aborted transaction that began in an earlier segment is indexed in the segment of its marker.

All entries of a log are kept in memory (one per aborted transaction: a few MiB for 100 000 aborts).
"""

from __future__ import annotations

import bisect
import logging
import os
import struct
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ENTRY_SIZE",
    "TXN_INDEX_SUFFIX",
    "AbortedTxn",
    "TransactionIndexes",
    "decode_entries",
    "encode_entry",
]

logger = logging.getLogger(__name__)

TXN_INDEX_SUFFIX = ".txnindex"
_ENTRY = struct.Struct(">hqqqq")
ENTRY_SIZE = _ENTRY.size  # 34
_VERSION = 0


@dataclass(frozen=True, slots=True)
class AbortedTxn:
    producer_id: int
    first_offset: int
    last_offset: int
    last_stable_offset: int


def encode_entry(txn: AbortedTxn) -> bytes:
    return _ENTRY.pack(_VERSION, txn.producer_id, txn.first_offset, txn.last_offset, txn.last_stable_offset)


def decode_entries(data: bytes) -> list[AbortedTxn]:
    """Every whole entry of a file's bytes (a torn last entry is dropped). Raises ValueError on an
    unknown version."""
    entries = []
    for pos in range(0, len(data) - ENTRY_SIZE + 1, ENTRY_SIZE):
        version, producer_id, first, last, lso = _ENTRY.unpack_from(data, pos)
        if version != _VERSION:
            raise ValueError(f"unknown transaction index entry version {version} at byte {pos}")
        entries.append(AbortedTxn(producer_id, first, last, lso))
    return entries


def txn_index_path(directory: Path, base_offset: int) -> Path:
    return directory / f"{base_offset:020d}{TXN_INDEX_SUFFIX}"


class TransactionIndexes:
    """The .txnindex files of one log, by segment base offset. Owned by the log's owner."""

    def __init__(
        self, directory: Path, base_offsets: list[int], present: Collection[int] | None = None
    ) -> None:
        """`present`: the bases whose file the caller's listing of the directory found (None: try each)."""
        self._directory = directory
        self._unsynced: set[int] = set()  # bases whose file was written since the last flush
        self._entries: dict[int, list[AbortedTxn]] = {}
        for base in base_offsets:
            if present is not None and base not in present:
                continue  # no open that fails: one per partition at a 10,000-partition start
            path = txn_index_path(directory, base)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            try:
                entries = decode_entries(data)
            except ValueError as exc:
                logger.warning("ignoring transaction index file=%s error=%s", path, exc)
                entries = []
            if entries:
                self._entries[base] = entries

    def _base_for(self, offset: int, bases: list[int]) -> int:
        return bases[max(0, bisect.bisect_right(bases, offset) - 1)]

    def append(self, txn: AbortedTxn, bases: list[int]) -> None:
        """Index `txn` in the segment holding its marker (`bases`: the log's segment base offsets)."""
        base = self._base_for(txn.last_offset, bases)
        entries = self._entries.setdefault(base, [])
        if entries and entries[-1].last_offset >= txn.last_offset:
            # a bug, not bad input: the marker is in the log already, so keep the log and say so
            logger.error(
                "aborted transaction at %d is not after the last indexed %d (%s): not indexed",
                txn.last_offset,
                entries[-1].last_offset,
                self._directory,
            )
            return
        entries.append(txn)
        with open(txn_index_path(self._directory, base), "ab") as f:
            f.write(encode_entry(txn))
        self._unsynced.add(base)

    def collect(self, fetch_offset: int, upper_bound: int, bases: list[int]) -> list[AbortedTxn]:
        """Aborted transactions overlapping [fetch_offset, upper_bound): last_offset >= fetch_offset and
        first_offset < upper_bound, in marker order (Kafka's collectAbortedTxns).

        Segments before the one holding `fetch_offset` hold only earlier markers and are skipped; the
        search stops at the first entry whose last_stable_offset reaches `upper_bound`: no transaction
        that began below it was still open at that marker, so later markers cannot overlap."""
        found: list[AbortedTxn] = []
        if not self._entries:
            return found
        start = self._base_for(fetch_offset, bases) if bases else 0
        for base in sorted(b for b in self._entries if b >= start):
            entries = self._entries[base]
            first = bisect.bisect_left(entries, fetch_offset, key=lambda t: t.last_offset)
            for txn in entries[first:]:
                if txn.first_offset < upper_bound:
                    found.append(txn)
                if txn.last_stable_offset >= upper_bound:
                    return found
        return found

    def all_entries(self) -> list[AbortedTxn]:
        return [txn for base in sorted(self._entries) for txn in self._entries[base]]

    def truncate_to(self, offset: int) -> None:
        """The log was cut to end at `offset`: forget markers at or past it."""
        for base in [b for b, entries in self._entries.items() if entries[-1].last_offset >= offset]:
            self._rewrite(base, [t for t in self._entries[base] if t.last_offset < offset])

    def replace_from(self, offset: int, txns: list[AbortedTxn], bases: list[int]) -> None:
        """A replay of the log from `offset` found `txns` (marker order): they replace every entry whose
        marker is at or past `offset` (the files of the segments concerned are rewritten)."""
        by_base = {
            base: [t for t in entries if t.last_offset < offset] for base, entries in self._entries.items()
        }
        for txn in txns:
            by_base.setdefault(self._base_for(txn.last_offset, bases), []).append(txn)
        for base, entries in by_base.items():
            if entries != self._entries.get(base, []):
                self._rewrite(base, entries)

    def discard(self, keys: set[tuple[int, int]]) -> None:
        """Forget the entries of these (producer id, marker offset) pairs (compaction removed the markers)."""
        for base, entries in list(self._entries.items()):
            kept = [t for t in entries if (t.producer_id, t.last_offset) not in keys]
            if len(kept) != len(entries):
                self._rewrite(base, kept)

    def remove(self, base_offset: int) -> None:
        """Its segment is deleted (retention, truncation, compaction swap keeps it)."""
        self._entries.pop(base_offset, None)
        txn_index_path(self._directory, base_offset).unlink(missing_ok=True)

    def _rewrite(self, base: int, entries: list[AbortedTxn]) -> None:
        path = txn_index_path(self._directory, base)
        if not entries:
            self._entries.pop(base, None)
            path.unlink(missing_ok=True)
            return
        self._entries[base] = entries
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(b"".join(encode_entry(t) for t in entries))
        os.replace(tmp, path)
        self._unsynced.add(base)

    def flush(self) -> None:
        """fsync the index files written since the last flush (with the segments' flush)."""
        unsynced, self._unsynced = self._unsynced, set()
        for base in unsynced:
            path = txn_index_path(self._directory, base)
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
