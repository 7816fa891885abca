"""Kafka's client quota decisions (broker/quota_rules.py): precedence, rates, throttle times, alterations."""

from __future__ import annotations

import asyncio

import pytest

from brook.broker.quota_rules import (
    RateSensor,
    TimedCall,
    altered_values,
    entity_from_pairs,
    entity_matches,
    find_quota,
)

U, C = "user", "client-id"
ALL_LEVELS = {
    ((U, "alice"), (C, "app")): 1.0,
    ((U, "alice"), (C, None)): 2.0,
    ((U, "alice"),): 3.0,
    ((U, None), (C, "app")): 4.0,
    ((U, None), (C, None)): 5.0,
    ((U, None),): 6.0,
    ((C, "app"),): 7.0,
    ((C, None),): 8.0,
}


def test_precedence_is_kip_55s_order_most_specific_first():
    configs = {entity: {"producer_byte_rate": value} for entity, value in ALL_LEVELS.items()}
    seen = []
    for entity in list(ALL_LEVELS):
        seen.append(find_quota(configs, "alice", "app", "producer_byte_rate"))
        del configs[entity]
    assert seen == [
        (1.0, ("alice", "app")),
        (2.0, ("alice", "app")),
        (3.0, ("alice", "")),  # a user quota is shared by all the user's clients
        (4.0, ("alice", "app")),
        (5.0, ("alice", "app")),
        (6.0, ("alice", "")),
        (7.0, ("", "app")),
        (8.0, ("", "app")),  # the default client quota applies to each client id on its own
    ]
    assert find_quota(configs, "alice", "app", "producer_byte_rate") is None


def test_each_quota_key_is_looked_up_on_its_own():
    configs = {((C, "app"),): {"producer_byte_rate": 10.0}, ((C, None),): {"consumer_byte_rate": 20.0}}
    assert find_quota(configs, "ANONYMOUS", "app", "consumer_byte_rate") == (20.0, ("", "app"))
    assert find_quota(configs, "ANONYMOUS", "other", "producer_byte_rate") is None


def test_rate_spans_at_least_samples_minus_one_windows_and_throttles_kafkas_way():
    sensor = RateSensor(samples=11, window_ms=1000)
    sensor.record(2000, now_ms=0)
    assert sensor.window_size_ms(0) == 10_000
    assert sensor.rate(0) == 200.0
    assert sensor.throttle_time_ms(200.0, 0) == 0
    # (rate - bound) / bound * window = (200 - 100) / 100 * 10 s
    assert sensor.throttle_time_ms(100.0, 0) == 10_000
    sensor.record(1000, now_ms=500)
    assert sensor.rate(500) == pytest.approx(3000 / 10.5)  # the current window counts as elapsed


def test_old_samples_leave_the_window():
    sensor = RateSensor(samples=3, window_ms=1000)
    sensor.record(3000, now_ms=0)
    sensor.record(1000, now_ms=2500)
    assert sensor.rate(2500) == 4000 / 2.5
    assert sensor.rate(3100) == pytest.approx(1000 / 2.6)  # the sample of t=0 is gone
    assert sensor.throttle_time_ms(1e9, 3100) == 0


def test_altered_values_sets_removes_and_checks():
    assert altered_values({"producer_byte_rate": 5.0}, [("consumer_byte_rate", 7.0, False)]) == {
        "producer_byte_rate": 5.0,
        "consumer_byte_rate": 7.0,
    }
    assert altered_values({"producer_byte_rate": 5.0}, [("producer_byte_rate", 0.0, True)]) == {}
    assert altered_values({}, [("request_percentage", 12.5, False)]) == {"request_percentage": 12.5}
    for ops in (
        [("bogus_rate", 1.0, False)],
        [("producer_byte_rate", -1.0, False)],
        [("producer_byte_rate", 1.5, False)],
    ):
        with pytest.raises(ValueError, match="Invalid"):
            altered_values({}, ops)


def test_entities_are_canonical_and_checked():
    assert entity_from_pairs([(C, "a"), (U, None)]) == ((U, None), (C, "a"))
    for bad in ([], [("ip", "1.2.3.4")], [(C, "a"), (C, "b")]):
        with pytest.raises(ValueError):
            entity_from_pairs(bad)


def test_describe_filters_match_kafkas_match_types():
    alice_app = ((U, "alice"), (C, "app"))
    app = ((C, "app"),)
    default_client = ((C, None),)
    assert entity_matches(app, [(C, 0, "app")], strict=True)
    assert not entity_matches(default_client, [(C, 0, "app")], strict=False)
    assert entity_matches(default_client, [(C, 1, None)], strict=True)
    assert entity_matches(alice_app, [(C, 2, None)], strict=False)
    assert not entity_matches(alice_app, [(C, 2, None)], strict=True)
    assert entity_matches(alice_app, [], strict=False)


async def test_timed_call_counts_running_time_not_waiting_time():
    async def handler() -> str:
        await asyncio.sleep(0.2)
        sum(range(200_000))
        return "done"

    timed = TimedCall(handler())
    assert await timed == "done"
    assert 0 < timed.busy_ns < 150_000_000


async def test_timed_call_passes_exceptions_through():
    async def failing() -> None:
        await asyncio.sleep(0)
        raise KeyError("x")

    with pytest.raises(KeyError):
        await TimedCall(failing())
