"""The request time split (broker/request_metrics.py) and the histogram under it (common/histogram.py)."""

from __future__ import annotations

from types import SimpleNamespace

from brook.broker.request_metrics import PHASES, RequestMetrics, api_name
from brook.common.histogram import Histogram, LockedHistogram
from brook.protocol.connection import Request

MS = 1_000_000  # ns


def test_histogram_buckets_are_cumulative_and_inclusive_of_their_bound():
    h = Histogram((1.0, 10.0))
    for value in (0.5, 1.0, 1.5, 10.0, 99.0):
        h.observe(value)
    buckets, total = h.snapshot()
    assert buckets == [("1.0", 2), ("10.0", 4), ("+Inf", 5)]
    assert total == 0.5 + 1.0 + 1.5 + 10.0 + 99.0
    assert h.count == 5


def test_locked_histogram_counts_like_the_plain_one():
    h = LockedHistogram((5.0,))
    h.observe(4.0)
    h.observe(6.0)
    assert h.snapshot() == ([("5.0", 1), ("+Inf", 2)], 10.0)


def test_api_names_are_kafkas():
    assert api_name(0, 9) == "Produce"
    assert api_name(8, 8) == "OffsetCommit"
    assert api_name(18, 3) == "ApiVersions"


def _request(api_key: int, version: int, body: object = None) -> Request:
    return Request(api_key, version, 1, "c", body, 100)


def _phases(metrics: RequestMetrics, name: str) -> dict[str, tuple[int, float]]:
    api = metrics.apis()[name]
    snapshots = [api.snapshot(i) for i in range(len(PHASES))]
    return {phase: (buckets[-1][1], total) for phase, (buckets, total) in zip(PHASES, snapshots, strict=True)}


def test_a_request_is_split_into_queue_local_remote_response_queue_and_send_time():
    metrics = RequestMetrics([(0, range(0, 10))])
    request = _request(0, 9)
    request.received_ns = 1_000 * MS
    request.started_ns = 1_002 * MS  # 2 ms queued
    request.remote_ns = 30 * MS  # parked for the ISR
    request.done_ns = 1_037 * MS  # 35 ms in the handler, 30 of them parked
    metrics.record(request, dequeued_ns=1_038 * MS, sent_ns=1_041 * MS)
    assert _phases(metrics, "Produce") == {
        "requestqueuetimems": (1, 2.0),
        "localtimems": (1, 5.0),
        "remotetimems": (1, 30.0),
        "responsequeuetimems": (1, 1.0),
        "responsesendtimems": (1, 3.0),
        "totaltimems": (1, 41.0),
    }
    assert metrics.apis()["Produce"].requests == {9: 1}


def test_a_fetch_counts_as_fetch_and_as_consumer_or_follower_fetch():
    metrics = RequestMetrics([(1, range(0, 13))])
    for replica_id in (-1, -1, 2):
        request = _request(1, 12, SimpleNamespace(replica_id=replica_id))
        request.received_ns = request.started_ns = request.done_ns = 5 * MS
        metrics.record(request, 5 * MS, 6 * MS)
    assert metrics.apis()["Fetch"].requests == {12: 3}
    assert metrics.apis()["FetchConsumer"].requests == {12: 2}
    assert metrics.apis()["FetchFollower"].requests == {12: 1}
    assert _phases(metrics, "FetchFollower")["totaltimems"] == (1, 1.0)


def test_phase_buckets_are_milliseconds_inclusive_of_their_bound():
    metrics = RequestMetrics([(0, range(0, 10))])
    request = _request(0, 9)
    request.received_ns, request.started_ns, request.done_ns = MS, 2 * MS, 2 * MS  # queued exactly 1 ms
    metrics.record(request, 2 * MS, 2 * MS)
    buckets, total = metrics.apis()["Produce"].snapshot(PHASES.index("requestqueuetimems"))
    assert dict(buckets)["0.5"] == 0
    assert dict(buckets)["1.0"] == 1
    assert buckets[-1] == ("+Inf", 1)
    assert total == 1.0


def test_a_request_without_its_stamps_is_not_recorded():
    metrics = RequestMetrics([(3, range(0, 13))])
    request = _request(3, 12)
    request.received_ns = 5 * MS  # no handler stamps: nothing to split
    metrics.record(request, 6 * MS, 7 * MS)
    assert "Metadata" not in metrics.apis()
