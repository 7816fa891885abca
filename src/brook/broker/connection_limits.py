"""Decisions about whole connections: Kafka's connection quotas and idle expiry (pure functions).

- `max.connections`: connections the broker holds at once; `max.connections.per.ip` per client
  address, with `max.connections.per.ip.overrides` ("host:count,host:count", hosts resolved at
  start). A connection over a limit is closed as soon as it is accepted and the reason logged. (Kafka
  closes a per-IP excess the same way; at the broker-wide limit its acceptor instead stops accepting
  until a slot frees, leaving clients queued in the kernel's backlog. asyncio cannot stop accepting
  without closing the listener, so brook closes the excess connection and the client retries.)
- `connections.max.idle.ms`: a connection that has neither sent nor been sent anything for that long,
  and owes no response, is closed (Kafka's Selector does the same from its idle-expiry LRU).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["admission_refusal", "idle_sweep_interval_s", "is_idle", "parse_ip_overrides"]


def parse_ip_overrides(value: str) -> dict[str, int]:
    """'hostName:100,127.0.0.1:200' -> {host: count}. Raises ValueError on a malformed entry."""
    overrides: dict[str, int] = {}
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        host, sep, count = entry.rpartition(":")
        if not sep or not host.strip() or not count.strip().isdigit():
            raise ValueError(f"max.connections.per.ip.overrides: bad entry {entry!r} (want host:count)")
        overrides[host.strip()] = int(count)
    return overrides


def admission_refusal(
    ip: str,
    *,
    total: int,
    from_ip: int,
    max_connections: int,
    max_per_ip: int,
    overrides: Mapping[str, int],
) -> str | None:
    """Why a new connection from `ip` must be closed, or None to keep it. `total` and `from_ip` count
    the connections already held, not this one."""
    if total >= max_connections:
        return f"max.connections={max_connections} reached"
    limit = overrides.get(ip, max_per_ip)
    if from_ip >= limit:
        return f"too many connections from {ip} (max.connections.per.ip{'.overrides' if ip in overrides else ''}={limit})"
    return None


def is_idle(*, last_active_s: float, now_s: float, idle_ms: int, responses_owed: int) -> bool:
    """A connection idle for connections.max.idle.ms that owes no response is closed (-1: never)."""
    if idle_ms < 0 or responses_owed > 0:
        return False
    return (now_s - last_active_s) * 1000 >= idle_ms


def idle_sweep_interval_s(idle_ms: int) -> float:
    """How often to look for idle connections: a tenth of the limit, between 50 ms and 30 s."""
    return min(30.0, max(0.05, idle_ms / 10_000))
