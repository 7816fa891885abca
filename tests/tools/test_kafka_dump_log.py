"""Kafka 3.9's own kafka-dump-log.sh (DumpLogSegments) reads the transaction markers and the .txnindex a
real `brook serve` wrote: the layouts are Kafka's, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from brook.testing import BrookProcess
from tests.integration.raw_client import RawClient
from tests.integration.txn_raw import init_producer_id, produce_txn, write_markers
from tests.tools.kafka_tools import run_tool

pytestmark = pytest.mark.slow


def test_kafka_dump_log_reads_brooks_markers_and_txnindex(tmp_path: Path) -> None:
    with BrookProcess(data_dir=tmp_path / "d") as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([NewTopic("dumped", 1, 1)])["dumped"].result(10)
        raw = RawClient(broker.bootstrap)
        aborter, a_epoch = init_producer_id(raw)
        committer, c_epoch = init_producer_id(raw)
        assert (
            produce_txn(raw, "dumped", 0, aborter, a_epoch, 0, [b"gone-1", b"gone-2"]).error_code == 0
        )  # 0-1
        assert produce_txn(raw, "dumped", 0, committer, c_epoch, 0, [b"kept"]).error_code == 0  # 2
        write_markers(raw, aborter, a_epoch, False, {"dumped": [0]}, coordinator_epoch=3)  # 3
        write_markers(raw, committer, c_epoch, True, {"dumped": [0]}, coordinator_epoch=3)  # 4
        raw.close()
        assert broker.stop() == 0
    segment = tmp_path / "d" / "dumped-0" / "00000000000000000000.log"
    lines = run_tool("kafka-dump-log", "--files", str(segment), "--deep-iteration", kafka=3).lines
    batches = [line for line in lines if line.startswith("baseOffset:")]
    assert [("isTransactional: true" in b, "isControl: true" in b) for b in batches] == [
        (True, False),
        (True, False),
        (True, True),
        (True, True),
    ]
    markers = [line.split("headerKeys: [] ", 1)[1] for line in lines if "endTxnMarker" in line]
    assert markers == ["endTxnMarker: ABORT coordinatorEpoch: 3", "endTxnMarker: COMMIT coordinatorEpoch: 3"]
    assert not any("isvalid: false" in line for line in lines)

    index = segment.with_suffix(".txnindex")
    lines = run_tool("kafka-dump-log", "--files", str(index), kafka=3).lines
    # lastStableOffset 2: the committer's transaction (from 2) was still open when the abort was written
    expected = f"version: 0 producerId: {aborter} firstOffset: 0 lastOffset: 3 lastStableOffset: 2"
    assert expected in lines
