"""Compaction keeps the latest record per key, keeps offsets and producer metadata, spares the active segment."""

from pathlib import Path

from brook.common.clock import FakeClock
from brook.common.types import TopicPartition
from brook.records.batch import Compression, iter_batches, parse_header
from brook.records.records import decode_records, keys_are_present
from brook.storage.api import LogConfig
from brook.storage.cleaner import clean_log
from brook.storage.log import FileLog
from brook.storage.manager import LogManager
from brook.testing import make_batch

T0 = 1_700_000_000_000
DAY = 24 * 3600 * 1000
CONFIG = LogConfig(cleanup_policy="compact", segment_bytes=600, file_delete_delay_ms=0)


def records_of(log: FileLog) -> list[tuple[int, bytes | None, bytes | None]]:
    out = []
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        data = log.read(offset, max_bytes=1 << 20).to_bytes()
        if not data:
            break
        for pos, h in iter_batches(data):
            out += [(r.offset, r.key, r.value) for r in decode_records(data[pos : pos + h.size], h)]
            offset = h.next_offset
    return out


def fill(log: FileLog, rounds: int = 6, compression: Compression = Compression.none) -> None:
    for i in range(rounds):
        for key in (b"a", b"b", b"c"):
            log.append_as_leader(
                make_batch(
                    [(key, b"%s-%d" % (key, i))], compression=compression, producer_id=7, base_sequence=i
                ),
                leader_epoch=0,
            )


def test_compaction_keeps_latest_value_per_key(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    log = FileLog.open(tmp_path / "t-0", CONFIG, clock=clock)
    fill(log)
    before = records_of(log)
    active_base = log.active_segment.base_offset
    assert clean_log(log, T0 + 1)
    after = records_of(log)
    assert log.log_end_offset == 18
    # Only the latest per key survives in the cleaned segments; the active segment is untouched.
    cleaned = [r for r in after if r[0] < active_base]
    keys = [r[1] for r in cleaned]
    assert len(keys) == len(set(keys))
    for offset, key, value in cleaned:
        latest_in_cleaned = max(o for o, k, _ in before if k == key and o < active_base)
        assert offset == latest_in_cleaned
        assert value == dict((o, v) for o, _, v in before)[offset]
    assert [r for r in after if r[0] >= active_base] == [r for r in before if r[0] >= active_base]
    # Offsets are kept: a read at a removed offset returns the next surviving batch.
    assert log.read(0, max_bytes=1 << 20).size > 0
    log.close()


def test_compaction_keeps_producer_metadata_and_codec(tmp_path: Path) -> None:
    log = FileLog.open(tmp_path / "t-0", CONFIG, clock=FakeClock(T0))
    for i in range(4):
        log.append_as_leader(
            make_batch(
                [(b"a", b"1"), (b"b", b"%d" % i)],
                compression=Compression.lz4,
                producer_id=9,
                producer_epoch=2,
                base_sequence=i * 2,
            ),
            leader_epoch=3,
        )
    log.roll()
    log.append_as_leader(make_batch([(b"z", b"z")]), leader_epoch=3)
    assert clean_log(log, T0 + 1)
    data = log.read(0, max_bytes=1 << 20).to_bytes()
    headers = [h for _, h in iter_batches(data)]
    assert all(
        h.producer_id == 9 and h.producer_epoch == 2 and h.compression == Compression.lz4 for h in headers
    )
    assert all(h.partition_leader_epoch == 3 and h.last_offset_delta == 1 for h in headers)
    assert [h.base_sequence for h in headers][-1] == 6
    log.close()


def test_tombstones_dropped_after_delete_retention(tmp_path: Path) -> None:
    config = LogConfig(cleanup_policy="compact", delete_retention_ms=DAY, file_delete_delay_ms=0)
    log = FileLog.open(tmp_path / "t-0", config, clock=FakeClock(T0))
    log.append_as_leader(make_batch([(b"a", b"1"), (b"b", b"2")]), leader_epoch=0)
    log.append_as_leader(make_batch([(b"a", None)]), leader_epoch=0)
    log.roll()
    log.append_as_leader(make_batch([(b"c", b"3")]), leader_epoch=0)
    clean_log(log, T0 + 10)
    assert [(k, v) for _, k, v in records_of(log)] == [(b"b", b"2"), (b"a", None), (b"c", b"3")]
    clean_log(log, T0 + 2 * DAY)
    assert [(k, v) for _, k, v in records_of(log)] == [(b"b", b"2"), (b"c", b"3")]
    log.close()


def test_compacted_log_survives_reopen(tmp_path: Path) -> None:
    manager = LogManager([tmp_path], FakeClock(T0))
    log = manager.create(TopicPartition("__consumer_offsets", 0), CONFIG)
    fill(log, compression=Compression.snappy)
    assert manager.run_compaction(T0 + 1) == 1
    expected = records_of(log)
    manager.close()
    manager = LogManager([tmp_path], FakeClock(T0))
    manager.load({"__consumer_offsets": CONFIG})
    reopened = manager.get(TopicPartition("__consumer_offsets", 0))
    assert reopened is not None
    assert records_of(reopened) == expected
    assert reopened.load_result.indexes_rebuilt == []
    manager.close()


def test_interrupted_swap_is_finished_on_load(tmp_path: Path) -> None:
    log = FileLog.open(tmp_path / "t-0", CONFIG, clock=FakeClock(T0))
    fill(log)
    first = log.segments[0]
    data = first.read_batch(0, parse_header(first.read_batch(0, first.header_at(0))))  # type: ignore[arg-type]
    log.close()
    # Pretend compaction wrote the first segment's replacement (its first batch only) and crashed.
    (tmp_path / "t-0" / (first.path.name + ".swap")).write_bytes(data)
    reopened = FileLog.open(tmp_path / "t-0", CONFIG, clock=FakeClock(T0))
    assert reopened.segments[0].size == len(data)
    assert not list((tmp_path / "t-0").glob("*.swap"))
    reopened.close()


def test_keys_are_present() -> None:
    assert keys_are_present(
        make_batch([(b"k", b"v")]) + make_batch([(b"j", None)], compression=Compression.zstd)
    )
    assert not keys_are_present(make_batch([(b"k", b"v"), (None, b"v")], compression=Compression.gzip))


def _txn_partition(tmp_path: Path):
    from brook.replication.partition import Partition

    clock = FakeClock(T0)
    config = LogConfig(cleanup_policy="compact", file_delete_delay_ms=0)
    log = FileLog.open(tmp_path / "t-0", config, clock=clock)
    partition = Partition(TopicPartition("t", 0), log, config, 0, 0, 0, (0,), (0,))
    partition.make_leader(0, (0,), (0,), now_ms=T0)
    log.stable_offset_source = lambda: partition.last_stable_offset
    return partition, log


def _txn(pid: int, key: bytes, value: bytes, seq: int = 0) -> bytearray:
    return bytearray(
        make_batch(
            [(key, value)],
            timestamp=T0,
            producer_id=pid,
            producer_epoch=0,
            base_sequence=seq,
            transactional=True,
        )
    )


def test_aborted_records_never_shadow_committed_ones_and_are_removed(tmp_path: Path) -> None:
    from brook.records.control import ControlType, EndTxnMarker

    partition, log = _txn_partition(tmp_path)
    partition.append_as_leader(_txn(1, b"k", b"committed"), T0)  # 0
    partition.append_txn_marker(1, 0, EndTxnMarker(ControlType.COMMIT, 0), T0)  # 1
    partition.append_as_leader(_txn(2, b"k", b"aborted"), T0)  # 2
    partition.append_txn_marker(2, 0, EndTxnMarker(ControlType.ABORT, 0), T0)  # 3
    log.roll()
    assert clean_log(log, T0 + 1)
    assert [(o, k, v) for o, k, v in records_of(log) if k == b"k"] == [(0, b"k", b"committed")]
    kinds = [h.is_control for h in log.batch_headers(0)]
    assert kinds == [False, True, True]  # both markers kept, the aborted batch gone
    log.close()


def test_compaction_stops_before_an_open_transaction(tmp_path: Path) -> None:
    partition, log = _txn_partition(tmp_path)
    log.append_as_leader(make_batch([(b"k", b"old")], timestamp=T0), leader_epoch=0)  # 0
    partition.append_as_leader(_txn(1, b"k", b"open"), T0)  # 1: may still abort
    log.roll()
    assert partition.last_stable_offset == 1
    assert not clean_log(log, T0 + 1)  # the only inactive segment holds the open transaction
    assert [v for _, _, v in records_of(log)] == [b"old", b"open"]
    log.close()


def test_markers_of_transactions_without_records_go_after_delete_retention(tmp_path: Path) -> None:
    from brook.records.control import ControlType, EndTxnMarker

    partition, log = _txn_partition(tmp_path)
    partition.append_as_leader(_txn(1, b"k", b"committed"), T0)  # 0
    partition.append_txn_marker(1, 0, EndTxnMarker(ControlType.COMMIT, 0), T0)  # 1
    partition.append_as_leader(_txn(2, b"k", b"aborted"), T0)  # 2
    partition.append_txn_marker(2, 0, EndTxnMarker(ControlType.ABORT, 0), T0)  # 3
    partition.append_as_leader(_txn(3, b"k", b"newer"), T0)  # 4: shadows 0, so 1's transaction is empty
    partition.append_txn_marker(3, 0, EndTxnMarker(ControlType.COMMIT, 0), T0)  # 5
    log.roll()
    assert len(log.aborted_txns()) == 1
    # before delete.retention.ms the empty transactions keep their markers
    assert clean_log(log, T0 + 1)
    assert [(h.base_offset, h.is_control) for h in log.batch_headers(0)] == [
        (1, True),
        (3, True),
        (4, False),
        (5, True),
    ]
    assert len(log.aborted_txns()) == 1
    # after it, only the marker of the transaction that still holds a record stays
    assert clean_log(log, T0 + 2 * DAY)
    assert [(h.base_offset, h.is_control) for h in log.batch_headers(0)] == [(4, False), (5, True)]
    assert log.aborted_txns() == []
    assert not list((tmp_path / "t-0").glob("*.txnindex"))
    assert [(o, v) for o, k, v in records_of(log) if k == b"k"] == [(4, b"newer")]
    log.close()
