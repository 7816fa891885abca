"""`brook dump-log FILE...`: print segment files (like kafka-dump-log.sh), offline, no broker needed.

- `.log`: v2 batches back to back; each batch's header, whether its CRC holds, and with --deep its records.
- `.index`: 8-byte entries (relative offset int32, position int32).
- `.timeindex`: 12-byte entries (timestamp int64, relative offset int32).
- `.txnindex`: 34-byte aborted transactions (storage/txn_index.py).
Control batches (transaction markers) show their type and coordinator epoch (`end_txn_marker`), and with
--deep their record as Kafka prints it: `endTxnMarker: COMMIT coordinatorEpoch: 0`.
Trailing all-zero index entries are preallocated space, not entries. When the `.log` with the same name is
there, index entries are checked against it and disagreements are listed under "mismatches".
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from brook.cli._common import CliError, debug_option, emit, format_option

__all__ = ["dump_log", "read_index", "read_log", "read_time_index", "read_txn_index"]

_OFFSET_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")
_CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def _base_offset(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError:
        return 0


def read_log(path: Path, *, deep: bool) -> dict[str, Any]:
    from brook.records.batch import BATCH_HEADER_SIZE, LOG_OVERHEAD, crc_is_valid, parse_header

    data = path.read_bytes()
    batches = []
    pos = 0
    while len(data) - pos >= BATCH_HEADER_SIZE:
        header = parse_header(data, pos)
        if header.batch_length < BATCH_HEADER_SIZE - LOG_OVERHEAD or pos + header.size > len(data):
            break
        entry: dict[str, Any] = {
            "position": pos,
            "base_offset": header.base_offset,
            "last_offset": header.last_offset,
            "count": header.records_count,
            "size": header.size,
            "batch_length": header.batch_length,
            "magic": header.magic,
            "crc": header.crc,
            "crc_valid": header.magic == 2 and crc_is_valid(data, pos, header),
            "compression": _CODECS.get(header.compression, f"unknown({header.compression})"),
            "timestamp_type": "LogAppendTime" if header.timestamp_type == 1 else "CreateTime",
            "base_timestamp": header.base_timestamp,
            "max_timestamp": header.max_timestamp,
            "producer_id": header.producer_id,
            "producer_epoch": header.producer_epoch,
            "base_sequence": header.base_sequence,
            "last_sequence": header.last_sequence,
            "partition_leader_epoch": header.partition_leader_epoch,
            "is_transactional": header.is_transactional,
            "is_control": header.is_control,
        }
        if header.is_control:
            entry["end_txn_marker"] = _marker(data[pos : pos + header.size], header)
        if deep:
            entry["records"], entry["records_error"] = _records(data[pos : pos + header.size], header)
        batches.append(entry)
        pos += header.size
    return {
        "file": str(path),
        "type": "log",
        "base_offset": _base_offset(path),
        "size": len(data),
        "batches": batches,
        "invalid_bytes": len(data) - pos,
        "invalid_position": pos if pos < len(data) else None,
    }


def _marker(batch: bytes, header: Any) -> dict[str, Any] | None:
    """A control batch's COMMIT/ABORT marker; None for another control type or an unreadable one."""
    from brook.records.control import parse_end_txn_marker

    try:
        marker = parse_end_txn_marker(batch, header)
    except Exception:  # noqa: BLE001 - a damaged marker is shown as none; --deep reports the error
        return None
    if marker is None:
        return None
    return {"type": marker.control_type.name, "coordinator_epoch": marker.coordinator_epoch}


def read_txn_index(path: Path) -> dict[str, Any]:
    from brook.storage.txn_index import ENTRY_SIZE, decode_entries

    data = path.read_bytes()
    whole = len(data) - len(data) % ENTRY_SIZE
    try:
        entries = decode_entries(data[:whole])
        error = None
    except ValueError as exc:
        entries, error = [], str(exc)
    return {
        "file": str(path),
        "type": "txnindex",
        "base_offset": _base_offset(path),
        "entries": [
            {
                "version": 0,
                "producer_id": t.producer_id,
                "first_offset": t.first_offset,
                "last_offset": t.last_offset,
                "last_stable_offset": t.last_stable_offset,
            }
            for t in entries
        ],
        "trailing_bytes": len(data) - whole,
        "error": error,
    }


def _txn_index_text(doc: dict[str, Any]) -> list[str]:
    lines = [
        f"version: {e['version']} producerId: {e['producer_id']} firstOffset: {e['first_offset']} "
        f"lastOffset: {e['last_offset']} lastStableOffset: {e['last_stable_offset']}"
        for e in doc["entries"]
    ]
    if doc["error"]:
        lines.append(f"Unreadable: {doc['error']}")
    if doc["trailing_bytes"]:
        lines.append(f"Found {doc['trailing_bytes']} bytes after the last whole entry")
    return lines


def _records(batch: bytes, header: Any) -> tuple[list[dict[str, Any]], str | None]:
    try:
        from brook.records.records import iter_records
    except ImportError:
        raise CliError(
            "--deep needs record decoding (brook.records.records), which this build lacks"
        ) from None
    from brook.cli.record_format import text_or_base64

    out: list[dict[str, Any]] = []
    try:
        for rec in iter_records(batch, header):
            key, key_encoding = text_or_base64(rec.key)
            value, value_encoding = text_or_base64(rec.value)
            out.append(
                {
                    "offset": rec.offset,
                    "timestamp": rec.timestamp,
                    "key_size": -1 if rec.key is None else len(rec.key),
                    "value_size": -1 if rec.value is None else len(rec.value),
                    "sequence": -1
                    if header.base_sequence < 0
                    else (header.base_sequence + rec.offset - header.base_offset) & 0x7FFFFFFF,
                    "headers": [
                        dict(zip(("key", "value", "value_encoding"), (hk, *text_or_base64(hv)), strict=True))
                        for hk, hv in rec.headers
                    ],
                    "key": key,
                    "key_encoding": key_encoding,
                    "value": value,
                    "value_encoding": value_encoding,
                }
            )
    except Exception as exc:  # noqa: BLE001 - a damaged batch is something to report, not to crash on
        return out, f"{type(exc).__name__}: {exc}"
    return out, None


def _entries(data: bytes, entry: struct.Struct) -> list[tuple[int, int]]:
    size = entry.size
    rows = [entry.unpack_from(data, i) for i in range(0, len(data) - len(data) % size, size)]
    # Preallocated space reads as zero entries; the first entry may really be (0, 0).
    while len(rows) > 1 and rows[-1] == (0, 0):
        rows.pop()
    if len(rows) == 1 and rows[0] == (0, 0) and not any(data):
        rows.pop()
    return rows


def _sibling_log(path: Path) -> dict[str, Any] | None:
    log = path.with_suffix(".log")
    return read_log(log, deep=False) if log.is_file() else None


def _batch_containing(batches: list[dict[str, Any]], offset: int) -> dict[str, Any] | None:
    for b in batches:
        if b["base_offset"] <= offset <= b["last_offset"]:
            return b
    return None


def read_index(path: Path) -> dict[str, Any]:
    """An offset index: (offset, position) entries, checked against the batches of its segment's .log."""
    return _read_index_file(
        path,
        "index",
        _OFFSET_ENTRY,
        lambda base, rel, position: {"offset": base + rel, "position": position},
        _offset_index_mismatches,
    )


def read_time_index(path: Path) -> dict[str, Any]:
    """A time index: (timestamp, offset) entries, checked against the batches of its segment's .log."""
    return _read_index_file(
        path,
        "timeindex",
        _TIME_ENTRY,
        lambda base, ts, rel: {"timestamp": ts, "offset": base + rel},
        _time_index_mismatches,
    )


def _read_index_file(
    path: Path,
    kind: str,
    layout: struct.Struct,
    to_entry: Callable[[int, int, int], dict[str, Any]],
    mismatches_of: Callable[[list[dict[str, Any]], list[dict[str, Any]]], list[str]],
) -> dict[str, Any]:
    base = _base_offset(path)
    data = path.read_bytes()
    entries = [to_entry(base, a, b) for a, b in _entries(data, layout)]
    log = _sibling_log(path)
    return {
        "file": str(path),
        "type": kind,
        "base_offset": base,
        "entries": entries,
        "trailing_bytes": len(data) % layout.size,
        "checked_against": str(path.with_suffix(".log")) if log is not None else None,
        "mismatches": mismatches_of(entries, log["batches"]) if log is not None else [],
    }


def _offset_index_mismatches(entries: list[dict[str, Any]], batches: list[dict[str, Any]]) -> list[str]:
    by_position = {b["position"]: b for b in batches}
    mismatches = []
    previous = None
    for i, e in enumerate(entries):
        batch = by_position.get(e["position"])
        if batch is None:
            mismatches.append(f"entry {i}: position {e['position']} is not the start of a batch")
        elif not batch["base_offset"] <= e["offset"] <= batch["last_offset"]:
            mismatches.append(
                f"entry {i}: offset {e['offset']} but the batch at position {e['position']} holds offsets "
                f"{batch['base_offset']}-{batch['last_offset']}"
            )
        if previous is not None and (
            e["offset"] <= previous["offset"] or e["position"] <= previous["position"]
        ):
            mismatches.append(f"entry {i}: offset {e['offset']} / position {e['position']} do not increase")
        previous = e
    return mismatches


def _time_index_mismatches(entries: list[dict[str, Any]], batches: list[dict[str, Any]]) -> list[str]:
    mismatches = []
    previous = None
    for i, e in enumerate(entries):
        batch = _batch_containing(batches, e["offset"])
        if batch is None:
            mismatches.append(f"entry {i}: offset {e['offset']} is in no batch of the log")
        elif batch["max_timestamp"] != e["timestamp"]:
            mismatches.append(
                f"entry {i}: timestamp {e['timestamp']} for offset {e['offset']}, but that batch's "
                f"max timestamp is {batch['max_timestamp']}"
            )
        if previous is not None and (
            e["timestamp"] < previous["timestamp"] or e["offset"] < previous["offset"]
        ):
            mismatches.append(f"entry {i}: timestamp {e['timestamp']} / offset {e['offset']} go backwards")
        previous = e
    return mismatches


def _log_text(doc: dict[str, Any]) -> list[str]:
    lines = [f"Log starting offset: {doc['base_offset']}"]
    for b in doc["batches"]:
        lines.append(
            f"baseOffset: {b['base_offset']} lastOffset: {b['last_offset']} count: {b['count']} "
            f"baseSequence: {b['base_sequence']} lastSequence: {b['last_sequence']} "
            f"producerId: {b['producer_id']} producerEpoch: {b['producer_epoch']} "
            f"partitionLeaderEpoch: {b['partition_leader_epoch']} "
            f"isTransactional: {str(b['is_transactional']).lower()} isControl: {str(b['is_control']).lower()} "
            f"position: {b['position']} {b['timestamp_type']}: {b['max_timestamp']} "
            f"baseTimestamp: {b['base_timestamp']} size: {b['size']} magic: {b['magic']} "
            f"compresscodec: {b['compression']} crc: {b['crc']} isvalid: {str(b['crc_valid']).lower()}"
        )
        marker = b.get("end_txn_marker")
        for r in b.get("records") or []:
            header_keys = ",".join(h["key"] for h in r["headers"])
            if marker is not None:
                lines.append(
                    f"| offset: {r['offset']} {b['timestamp_type']}: {r['timestamp']} keySize: {r['key_size']} "
                    f"valueSize: {r['value_size']} sequence: {r['sequence']} headerKeys: [{header_keys}] "
                    f"endTxnMarker: {marker['type']} coordinatorEpoch: {marker['coordinator_epoch']}"
                )
                continue
            lines.append(
                f"| offset: {r['offset']} {b['timestamp_type']}: {r['timestamp']} keySize: {r['key_size']} "
                f"valueSize: {r['value_size']} sequence: {r['sequence']} headerKeys: [{header_keys}] "
                f"key: {r['key'] if r['key'] is not None else ''} payload: {r['value'] if r['value'] is not None else ''}"
            )
        if b.get("records_error"):
            lines.append(f"| records could not be decoded: {b['records_error']}")
    if doc["invalid_bytes"]:
        lines.append(
            f"Found {doc['invalid_bytes']} invalid bytes at the end of {Path(doc['file']).name} "
            f"(position {doc['invalid_position']})"
        )
    return lines


def _index_text(doc: dict[str, Any]) -> list[str]:
    if doc["type"] == "index":
        lines = [f"offset: {e['offset']} position: {e['position']}" for e in doc["entries"]]
    else:
        lines = [f"timestamp: {e['timestamp']} offset: {e['offset']}" for e in doc["entries"]]
    if doc["trailing_bytes"]:
        lines.append(f"Found {doc['trailing_bytes']} bytes after the last whole entry")
    if doc["checked_against"] is None:
        lines.append("(no .log file next to it: entries not checked)")
    elif doc["mismatches"]:
        lines.append(f"Mismatches in {Path(doc['file']).name}:")
        lines.extend(f"  {m}" for m in doc["mismatches"])
    else:
        lines.append(f"No mismatches against {Path(doc['checked_against']).name}")
    return lines


@click.command(name="dump-log")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--files", "files_opt", default=None, help="Comma-separated files (kafka-dump-log.sh's flag)")
@click.option(
    "--deep",
    "--deep-iteration",
    "--print-data-log",
    "deep",
    is_flag=True,
    help="Print every record of each batch",
)
@format_option
@debug_option
def dump_log(files: tuple[Path, ...], files_opt: str | None, deep: bool) -> None:
    """Print the batches of FILE.log (records with --deep) or the entries of .index/.timeindex/.txnindex files."""
    paths = list(files) + [Path(p) for p in (files_opt or "").split(",") if p]
    if not paths:
        raise click.UsageError("name at least one .log, .index, .timeindex or .txnindex file")
    docs = []
    for path in paths:
        if not path.is_file():
            raise CliError(f"no such file: {path}")
        if path.suffix == ".log":
            docs.append(read_log(path, deep=deep))
        elif path.suffix == ".index":
            docs.append(read_index(path))
        elif path.suffix == ".timeindex":
            docs.append(read_time_index(path))
        elif path.suffix == ".txnindex":
            docs.append(read_txn_index(path))
        else:
            raise CliError(f"{path}: not a .log, .index, .timeindex or .txnindex file")

    def text() -> str:
        out = []
        for doc in docs:
            out.append(f"Dumping {doc['file']}")
            if doc["type"] == "log":
                out.extend(_log_text(doc))
            elif doc["type"] == "txnindex":
                out.extend(_txn_index_text(doc))
            else:
                out.extend(_index_text(doc))
        return "\n".join(out)

    emit(docs if len(docs) > 1 else docs[0], text)
