"""Recovery after a torn write keeps exactly the whole batches before the cut; records round-trip."""

import os
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from brook.common.clock import FakeClock
from brook.records.batch import Compression, iter_batches
from brook.records.records import decode_records
from brook.storage.api import LogConfig
from brook.storage.log import FileLog
from brook.testing import make_batch

T0 = 1_700_000_000_000

record = st.tuples(st.none() | st.binary(max_size=20), st.none() | st.binary(max_size=200))
batch_specs = st.lists(st.lists(record, min_size=1, max_size=5), min_size=1, max_size=12)


@given(batch_specs, st.integers(min_value=0, max_value=10_000), st.sampled_from(list(Compression)))
def test_recover_keeps_only_whole_batches(specs: list, cut: int, compression: Compression) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "t-0"
        log = FileLog.open(directory, LogConfig(index_interval_bytes=100), clock=FakeClock(T0))
        written = []
        for spec in specs:
            buf = make_batch(spec, compression=compression)
            log.append_as_leader(buf, leader_epoch=0)
            written.append(bytes(buf))
        for segment in log.segments:
            segment.close()
        path = next(directory.glob("*.log"))
        cut = min(cut, path.stat().st_size)
        os.truncate(path, cut)
        kept, total = [], 0
        for b in written:
            if total + len(b) > cut:
                break
            kept.append(b)
            total += len(b)
        recovered = FileLog.open(directory, LogConfig(index_interval_bytes=100), clock=FakeClock(T0))
        try:
            assert recovered.log_end_offset == sum(len(s) for s in specs[: len(kept)])
            assert recovered.read(0, max_bytes=1 << 20).to_bytes() == b"".join(kept)
            assert recovered.load_result.bytes_truncated == cut - total
        finally:
            recovered.close()


@given(st.lists(st.tuples(st.none() | st.binary(max_size=50), st.none() | st.binary(max_size=300),
                          st.lists(st.tuples(st.text(max_size=5), st.none() | st.binary(max_size=5)), max_size=2)),
                min_size=1, max_size=10),
       st.sampled_from(list(Compression)), st.integers(0, 2**40))  # fmt: skip
def test_records_round_trip(records: list, compression: Compression, base_offset: int) -> None:
    buf = make_batch(records, base_offset=base_offset, compression=compression)
    [(_, header)] = list(iter_batches(buf))
    decoded = decode_records(buf, header)
    assert [(r.key, r.value, list(r.headers)) for r in decoded] == [(k, v, h) for k, v, h in records]
    assert [r.offset for r in decoded] == list(range(base_offset, base_offset + len(records)))
