"""The request time split (broker/request_metrics.py) and the histogram under it (common/histogram.py)."""

from __future__ import annotations

import dataclasses
import typing
from datetime import timedelta
from types import SimpleNamespace

from kio.index import UnknownEntity
from kio.schema.errors import ErrorCode
from kio.schema.list_offsets.v7 import response as lo

from brook.broker.request_metrics import PHASES, RequestMetrics, api_name, count_errors
from brook.common.histogram import Histogram, LockedHistogram
from brook.protocol import codec
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
        "throttletimems": (1, 0.0),
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


def _stamped(api_key: int, version: int) -> Request:
    request = _request(api_key, version)
    request.received_ns = request.started_ns = request.done_ns = MS
    return request


def test_throttle_time_is_the_time_the_response_was_throttled_for():
    metrics = RequestMetrics([(0, range(0, 10))])
    throttled = _stamped(0, 9)
    throttled.throttle_ms = 700
    metrics.record(throttled, MS, MS)
    metrics.record(_stamped(0, 9), MS, MS)
    buckets, total = metrics.apis()["Produce"].snapshot(PHASES.index("throttletimems"))
    assert total == 700.0
    assert dict(buckets)["500.0"] == 1  # the unthrottled one (0 ms)
    assert dict(buckets)["1000.0"] == 2


def _list_offsets_response(*topics: tuple[ErrorCode, ...]) -> lo.ListOffsetsResponse:
    """A response with nested error codes: topics, each with its partitions' codes."""
    return lo.ListOffsetsResponse(
        throttle_time=timedelta(0),
        topics=tuple(
            lo.ListOffsetsTopicResponse(
                name=f"t{i}",
                partitions=tuple(
                    lo.ListOffsetsPartitionResponse(partition_index=n, error_code=code)
                    for n, code in enumerate(codes)
                ),
            )
            for i, codes in enumerate(topics)
        ),
    )


def test_errors_are_counted_from_every_error_code_of_a_response():
    response = _list_offsets_response(
        (ErrorCode.none, ErrorCode.not_leader_or_follower), (ErrorCode.none, ErrorCode.none)
    )
    counts: dict[int, int] = {}
    count_errors(response, counts)
    assert counts == {0: 3, 6: 1}


def test_errors_come_from_the_response_or_from_what_the_handler_noted():
    metrics = RequestMetrics([(0, range(0, 10)), (2, range(0, 8))])
    response = _list_offsets_response((ErrorCode.topic_authorization_failed,))
    metrics.record(_stamped(2, 7), MS, MS, response)
    noted = _stamped(0, 9)
    noted.error_counts = {0: 3, 6: 1}  # a hand-encoded Produce response: its handler noted them
    metrics.record(noted, MS, MS, b"encoded response")
    assert metrics.apis()["ListOffsets"].errors == {29: 1}
    assert metrics.apis()["Produce"].errors == {0: 3, 6: 1}


def test_the_error_codes_of_every_handled_response_can_be_counted():
    from brook.broker.handlers import load_all
    from brook.broker.handlers.base import REGISTRY

    load_all()
    from brook.broker.request_metrics import _make_plan

    planned: set[type] = set()

    def plan(cls: type) -> None:
        if cls in planned:
            return
        planned.add(cls)
        _, single, many = _make_plan(cls)  # raises for a class it cannot read
        hints = typing.get_type_hints(cls)
        for name in (*single, *many):
            for arg in (hints[name], *typing.get_args(hints[name])):
                if dataclasses.is_dataclass(arg):
                    plan(arg)

    for handler in REGISTRY.values():
        for version in handler.versions:
            try:
                response_class = codec.response_class(handler.api_key, version)
            except UnknownEntity:  # an old version kio lacks: answered by protocol/legacy.py as bytes
                continue
            plan(response_class)
    assert len(planned) > 300
