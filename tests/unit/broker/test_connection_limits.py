"""Kafka's connection quotas and idle expiry, as decisions."""

from __future__ import annotations

import pytest

from brook.broker.connection_limits import admission_refusal, is_idle, parse_ip_overrides


def test_overrides_parse_kafkas_format() -> None:
    assert parse_ip_overrides("") == {}
    assert parse_ip_overrides("hostName:100,127.0.0.1:200") == {"hostName": 100, "127.0.0.1": 200}
    assert parse_ip_overrides("::1:5") == {"::1": 5}
    with pytest.raises(ValueError, match="bad entry"):
        parse_ip_overrides("127.0.0.1")
    with pytest.raises(ValueError, match="bad entry"):
        parse_ip_overrides("127.0.0.1:x")


def _refusal(ip: str, total: int, from_ip: int) -> str | None:
    return admission_refusal(
        ip, total=total, from_ip=from_ip, max_connections=10, max_per_ip=3, overrides={"10.0.0.9": 5}
    )


def test_admission_follows_the_broker_wide_then_the_per_ip_limit() -> None:
    assert _refusal("10.0.0.1", total=0, from_ip=0) is None
    assert _refusal("10.0.0.1", total=9, from_ip=2) is None
    assert "max.connections=10" in (_refusal("10.0.0.1", total=10, from_ip=0) or "")
    assert "max.connections.per.ip=3" in (_refusal("10.0.0.1", total=5, from_ip=3) or "")
    assert _refusal("10.0.0.9", total=5, from_ip=4) is None  # its override allows 5
    assert "overrides=5" in (_refusal("10.0.0.9", total=5, from_ip=5) or "")


def test_idle_means_silent_for_the_limit_with_nothing_owed() -> None:
    assert not is_idle(last_active_s=100.0, now_s=100.9, idle_ms=1000, responses_owed=0)
    assert is_idle(last_active_s=100.0, now_s=101.0, idle_ms=1000, responses_owed=0)
    assert not is_idle(last_active_s=100.0, now_s=200.0, idle_ms=1000, responses_owed=1)  # a parked fetch
    assert not is_idle(last_active_s=0.0, now_s=1e9, idle_ms=-1, responses_owed=0)
