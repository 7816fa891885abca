"""FileLog against a model (a list of batches): random appends, reads, rolls, truncations, deletes,
retention and reopen (clean or crashed) must leave the log answering as the model says."""

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from brook.common.clock import FakeClock
from brook.records.batch import iter_batches
from brook.storage.api import LogConfig
from brook.storage.log import FileLog
from brook.testing import make_batch

T0 = 1_700_000_000_000
CONFIG = LogConfig(
    segment_bytes=700, index_interval_bytes=150, segment_index_bytes=96, file_delete_delay_ms=0
)


@dataclass
class Model:
    batches: list[tuple[int, int, bytes]] = field(default_factory=list)  # base, last, bytes
    log_start_offset: int = 0
    log_end_offset: int = 0

    def expected_read(self, offset: int, max_bytes: int, upper_bound: int | None) -> list[bytes]:
        out: list[bytes] = []
        size = 0
        for _base, last, data in self.batches:
            if last < offset:
                continue
            if upper_bound is not None and last >= upper_bound:
                break
            if out and size + len(data) > max_bytes:
                break
            out.append(data)
            size += len(data)
        return out


ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 4), st.integers(0, 120), st.integers(0, 1000)),
        st.tuples(st.just("read"), st.integers(0, 60), st.integers(1, 2000), st.integers(0, 3)),
        st.tuples(st.just("roll"), st.just(0), st.just(0), st.just(0)),
        st.tuples(st.just("truncate"), st.integers(0, 60), st.just(0), st.just(0)),
        st.tuples(st.just("delete_records"), st.integers(0, 60), st.just(0), st.just(0)),
        st.tuples(st.just("retention"), st.integers(0, 3000), st.just(0), st.just(0)),
        st.tuples(st.just("reopen"), st.booleans(), st.just(0), st.just(0)),
    ),
    max_size=40,
)


def _reopen(log: FileLog, directory: Path, clean: bool) -> FileLog:
    recovery_point = log.recovery_point
    log_start = log.log_start_offset
    if clean:
        log.close()
    else:
        for segment in log.segments:
            segment.close()
    return FileLog.open(
        directory,
        CONFIG,
        clock=FakeClock(T0),
        recovery_point=recovery_point,
        log_start_offset=log_start,
        had_clean_shutdown=clean,
    )


def _check_read(log: FileLog, model: Model, offset: int, max_bytes: int, bound: int) -> None:
    offset = min(max(offset, model.log_start_offset), model.log_end_offset)
    upper_bound = None if bound == 0 else offset + bound
    got = log.read(offset, max_bytes=max_bytes, upper_bound=upper_bound).to_bytes()
    expected = model.expected_read(offset, max_bytes, upper_bound)
    got_batches = [bytes(got[p : p + h.size]) for p, h in iter_batches(got)]
    assert sum(len(b) for b in got_batches) == len(got)
    # FileLog reads one segment at a time: a non-empty prefix of the model's answer.
    assert got_batches == expected[: len(got_batches)]
    assert bool(got_batches) == bool(expected)


def _apply(log: FileLog, model: Model, directory: Path, op: tuple[str, int, int, int]) -> FileLog:
    name, a, b, c = op
    if name == "append":
        buf = make_batch([(b"k%d" % i, b"v" * b) for i in range(a)], timestamp=T0 + c)
        info = log.append_as_leader(buf, leader_epoch=len(model.batches) // 5)
        assert info.first_offset == model.log_end_offset
        model.batches.append((info.first_offset, info.last_offset, bytes(buf)))
        model.log_end_offset = info.last_offset + 1
        log.update_high_watermark(log.log_end_offset)
    elif name == "read":
        _check_read(log, model, a, b, c)
    elif name == "roll" and log.active_segment.size:
        log.roll()
    elif name == "truncate" and a >= model.log_start_offset:
        log.truncate_to(a)
        if a < model.log_end_offset:
            model.batches = [x for x in model.batches if x[1] < a]
            model.log_end_offset = log.log_end_offset
            cut = [x for x in model.batches if x[1] >= a]
            assert not cut
            assert model.log_end_offset <= a
    elif name == "delete_records" and a <= log.high_watermark:
        log.delete_records_before(a)
        model.log_start_offset = max(model.log_start_offset, a)
    elif name == "retention":
        log.update_config(dataclasses.replace(CONFIG, retention_bytes=a))
        log.delete_old_segments(T0)
        log.update_config(CONFIG)
        assert log.log_start_offset >= model.log_start_offset
        model.log_start_offset = log.log_start_offset
    elif name == "reopen":
        log = _reopen(log, directory, clean=bool(a))
    model.batches = [
        x for x in model.batches if x[1] >= model.log_start_offset or x[1] >= log.log_start_offset
    ]
    assert log.log_end_offset == model.log_end_offset
    assert log.log_start_offset == model.log_start_offset
    assert log.high_watermark <= log.log_end_offset
    return log


@given(ops)
def test_file_log_matches_model(operations: list[tuple[str, int, int, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "t-0"
        log = FileLog.open(directory, CONFIG, clock=FakeClock(T0))
        model = Model()
        try:
            for op in operations:
                log = _apply(log, model, directory, op)
            for offset in range(model.log_start_offset, model.log_end_offset + 1):
                _check_read(log, model, offset, 10_000, 0)
        finally:
            log.close()
