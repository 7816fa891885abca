"""The console's decisions (brook.console.model) and the sampler's bookkeeping, called directly."""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import datetime

import pytest

from brook.console.broker_metrics import TopicBytes, parse_topic_bytes
from brook.console.forms import form_int, key_values, timestamp_ms
from brook.console.log_dirs import LogDir
from brook.console.model import (
    PartitionHealth,
    broker_states,
    clamp_reset,
    group_state_name,
    lag_of,
    partition_health,
    rate_per_s,
    show_bytes,
    svg_polyline,
)
from brook.console.operations import ConsoleError
from brook.console.sampler import Sampler
from brook.console.snapshot import Broker, Group, MetricsEndpoints, Partition, Snapshot, Topic


def test_partition_health_counts_offline_under_replicated_and_under_min_isr():
    live = {0, 1}
    partitions = [
        (0, [0, 1, 2], [0, 1, 2], 2),  # healthy
        (1, [0, 1, 2], [0, 1], 2),  # under-replicated, at min ISR
        (0, [0, 1, 2], [0], 2),  # under-replicated and under min ISR
        (-1, [2], [2], 1),  # no leader: offline
        (2, [2, 0], [2, 0], 1),  # leader on a broker that is not live: offline
    ]
    assert partition_health(partitions, live) == PartitionHealth(
        total=5, online=3, offline=2, under_replicated=2, under_min_isr=1
    )


def test_a_broker_holding_replicas_but_missing_from_metadata_is_down():
    assert broker_states(live=[0, 2], replica_holders=[0, 1, 2, 1]) == {0: True, 1: False, 2: True}


def test_rate_between_oldest_and_newest_sample():
    assert rate_per_s([(10.0, 100), (12.0, 150), (14.0, 300)]) == 50.0
    assert rate_per_s([(10.0, 100)]) is None
    assert rate_per_s([(10.0, 100), (10.0, 200)]) is None
    assert rate_per_s([(10.0, 500), (12.0, 100)]) == 0.0  # a recreated topic: no negative rate


def test_lag_is_log_end_minus_committed_and_unknown_without_either():
    assert lag_of(10, 25) == 15
    assert lag_of(25, 25) == 0
    assert lag_of(30, 25) == 0
    assert lag_of(None, 25) is None
    assert lag_of(-1, 25) is None
    assert lag_of(10, None) is None


@pytest.mark.parametrize(
    ("strategy", "committed", "value", "expected"),
    [
        ("earliest", 50, None, 10),
        ("latest", 50, None, 100),
        ("offset", 50, 42, 42),
        ("offset", 50, 5, 10),  # below the log start: clamped
        ("offset", 50, 500, 100),  # past the log end: clamped
        ("shift", 50, -15, 35),
        ("shift", 50, -100, 10),
        ("shift", None, 5, 15),  # nothing committed: from the log start
        ("timestamp", 50, 77, 77),
        ("timestamp", 50, -1, 100),  # no record at or after the time: the log end
    ],
)
def test_reset_targets_follow_kafka_consumer_groups(strategy, committed, value, expected):
    assert clamp_reset(strategy, low=10, high=100, committed=committed, value=value) == expected


def test_unknown_reset_strategy_is_refused():
    with pytest.raises(ValueError, match="unknown reset strategy"):
        clamp_reset("sideways", low=0, high=1, committed=None, value=None)


def test_bytes_are_shown_as_json_text_or_base64():
    assert show_bytes(None).kind == "null"
    shown = show_bytes(b'{"a":1,"b":[1,2]}')
    assert shown.kind == "json"
    assert shown.text == '{\n  "a": 1,\n  "b": [\n    1,\n    2\n  ]\n}'
    assert show_bytes(b"plain words").kind == "text"
    assert show_bytes(b"{not json").kind == "text"
    binary = b"\x00\x01\xff"
    assert show_bytes(binary).kind == "base64"
    assert base64.b64decode(show_bytes(binary).text) == binary
    assert show_bytes(b"ctrl\x01char").kind == "base64"  # valid UTF-8 but not text


def test_svg_polyline_scales_into_the_box():
    assert svg_polyline([], width=100, height=50) == ""
    assert svg_polyline([(0.0, 0.0), (5.0, 10.0), (10.0, 5.0)], width=100, height=50) == (
        "0.0,50.0 50.0,0.0 100.0,25.0"
    )


def test_group_states_use_kafkas_spelling():
    class State:
        def __init__(self, name: str) -> None:
            self.name = name

    assert group_state_name(State("STABLE")) == "Stable"
    assert group_state_name(State("PREPARING_REBALANCING")) == "PreparingRebalance"
    assert group_state_name(State("EMPTY")) == "Empty"


def _snapshot(at_s: float, log_end: int, committed: int) -> Snapshot:
    snap = Snapshot(taken_at_s=at_s)
    snap.topics["t"] = Topic("t", False, [Partition(0, 0, [0], [0], 0, log_end, 10 * log_end)])
    snap.topics["__consumer_offsets"] = Topic("__consumer_offsets", True, [Partition(0, 0, [0], [0], 0, 999)])
    snap.groups["g"] = Group("g", "Stable", "consumer", [], 0, {("t", 0): committed})
    snap.log_dirs.append(LogDir(0, "/data", size_bytes=10 * log_end))
    return snap


def test_sampler_rates_and_lag_history_come_from_successive_snapshots():
    sampler = Sampler(lambda: Snapshot(0.0), interval_s=1.0, timeout_s=1.0)
    sampler.record(_snapshot(100.0, log_end=0, committed=0))
    sampler.record(_snapshot(102.0, log_end=100, committed=40))
    sampler.record(_snapshot(104.0, log_end=200, committed=200))
    assert sampler.messages_in.rate() == 50.0  # internal topics are not counted
    assert sampler.messages_out.rate() == 50.0
    assert sampler.bytes_on_disk.rate() == 500.0
    assert sampler.topic_rate("t") == 50.0
    assert list(sampler.group_lag["g"].samples) == [(100.0, 0), (102.0, 60), (104.0, 0)]


def test_topic_bytes_are_read_from_a_prometheus_page():
    page = """# HELP kafka_server_brokertopicmetrics_bytesin_total Record bytes produced
# TYPE kafka_server_brokertopicmetrics_bytesin_total counter
kafka_server_brokertopicmetrics_bytesin_total{topic="orders"} 1500.0
kafka_server_brokertopicmetrics_bytesin_total{topic="other.topic-1"} 7.0
kafka_server_brokertopicmetrics_bytesin_created{topic="orders"} 1.7e9
kafka_server_brokertopicmetrics_bytesout_total{instance="x",topic="orders",job="kafka"} 3.0e3
kafka_server_brokertopicmetrics_replicationbytesout_total 99.0
kafka_server_brokertopicmetrics_messagesin_total{topic="orders"} 15.0
"""
    found = parse_topic_bytes(page)
    assert found.bytes_in == {"orders": 1500, "other.topic-1": 7}
    assert found.bytes_out == {"orders": 3000}
    whole = TopicBytes(bytes_in={"orders": 1})
    whole.add(found)
    assert whole.bytes_in["orders"] == 1501  # each broker counts what it leads: the cluster's is the sum


def test_metrics_endpoints_are_the_given_urls_and_every_reachable_brokers_port():
    brokers = [
        Broker(0, "h0", 9092, None, True, True),
        Broker(1, "h1", 9092, None, False, False),  # down
        Broker(2, "h2", 9092, None, True, False, unreachable=True),
    ]
    assert MetricsEndpoints(port=9404).for_brokers(brokers) == ["http://h0:9404/metrics"]
    assert MetricsEndpoints(urls=("http://x/metrics",)).for_brokers(brokers) == ["http://x/metrics"]


def test_sampler_rates_of_bytes_in_and_out_per_topic():
    sampler = Sampler(lambda: Snapshot(0.0), interval_s=1.0, timeout_s=1.0)
    for at, n in ((100.0, 0), (102.0, 1000), (104.0, 4000)):
        snap = _snapshot(at, log_end=0, committed=0)
        snap.topic_bytes = TopicBytes(bytes_in={"t": n, "gone": 5}, bytes_out={"t": 2 * n})
        sampler.record(snap)
    assert sampler.topic_bytes_rates("t") == (1000.0, 2000.0)
    assert sampler.bytes_in.rate() == 1000.0  # only topics the cluster has
    assert sampler.bytes_out.rate() == 2000.0
    assert sampler.topic_bytes_rates("nothing") == (None, None)
    without_metrics = Sampler(lambda: Snapshot(0.0), interval_s=1.0, timeout_s=1.0)
    without_metrics.record(_snapshot(100.0, log_end=0, committed=0))
    without_metrics.record(_snapshot(101.0, log_end=0, committed=0))
    assert without_metrics.topic_bytes_rates("t") == (None, None)
    assert without_metrics.bytes_in.rate() is None


def test_sampler_forgets_a_deleted_topic():
    sampler = Sampler(lambda: Snapshot(0.0), interval_s=1.0, timeout_s=1.0)
    sampler.record(_snapshot(100.0, log_end=10, committed=0))
    empty = Snapshot(taken_at_s=101.0)
    sampler.record(empty)
    assert sampler.topic_rate("t") is None


def test_form_fields_are_read_or_refused_with_a_message():
    assert form_int({"partitions": " 6 "}, "partitions") == 6
    assert form_int({}, "partitions", 1) == 1
    with pytest.raises(ConsoleError, match="partitions must be a whole number, got 'six'"):
        form_int({"partitions": "six"}, "partitions")
    assert key_values("retention.ms=1000\n\ncleanup.policy = compact\n", "configs") == {
        "retention.ms": "1000",
        "cleanup.policy": "compact",
    }
    with pytest.raises(ConsoleError, match=re.escape("configs: expected key=value, got 'retention.ms'")):
        key_values("retention.ms", "configs")


def test_timestamps_are_milliseconds_or_iso_dates():
    assert timestamp_ms("1700000000000") == 1_700_000_000_000
    assert timestamp_ms("2026-01-31T12:00:00+00:00") == 1_769_860_800_000
    local = datetime(2026, 1, 31, 12, 0).astimezone()  # no zone: the console's local time
    assert timestamp_ms("2026-01-31T12:00") == int(local.timestamp() * 1000)
    with pytest.raises(ConsoleError, match="not a timestamp"):
        timestamp_ms("yesterday")
    with pytest.raises(ConsoleError, match="give a timestamp"):
        timestamp_ms(" ")


async def test_a_snapshot_the_sampler_fails_to_record_is_shown_as_an_error_and_sampling_goes_on():
    class Flaky(Sampler):
        def record(self, snap: Snapshot) -> None:
            if snap.taken_at_s == 1.0:
                raise ValueError("a bug in the bookkeeping")
            super().record(snap)

    taken = [_snapshot(1.0, log_end=0, committed=0), _snapshot(2.0, log_end=5, committed=0)]
    sampler = Flaky(lambda: taken.pop(0) if len(taken) > 1 else taken[0], interval_s=0.01, timeout_s=5.0)
    sampler.start()
    try:
        await asyncio.wait_for(sampler.wait_for_change(0, 5.0), 5)
        assert sampler.error == "ValueError: a bug in the bookkeeping"
        assert sampler.snapshot is None
        await asyncio.wait_for(sampler.wait_for_change(1, 5.0), 5)
        assert sampler.snapshot is not None
        assert sampler.snapshot.taken_at_s == 2.0
    finally:
        await sampler.stop()


def test_a_broker_that_could_not_list_its_groups_is_named_in_the_snapshots_errors():
    from concurrent.futures import Future

    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import ListConsumerGroupsResult

    from brook.console.snapshot import _read_groups

    class OneBrokerLoading:  # what librdkafka's admin client returns when one broker answers an error
        def list_consumer_groups(self, request_timeout: float) -> Future:
            done: Future = Future()
            error = KafkaException(KafkaError(KafkaError.COORDINATOR_LOAD_IN_PROGRESS))
            done.set_result(ListConsumerGroupsResult(valid=[], errors=[error]))
            return done

    snap = Snapshot(taken_at_s=0.0)
    _read_groups(snap, OneBrokerLoading(), 1.0)
    assert snap.groups == {}
    assert len(snap.errors) == 1
    assert snap.errors[0].startswith("ListGroups: COORDINATOR_LOAD_IN_PROGRESS")
