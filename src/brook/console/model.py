"""The console's decisions, as pure functions the tests call: partition health, broker up/down, rates from
log-end-offset samples, consumer lag, how a record's bytes are shown, and where a reset puts each offset.

No I/O here: cluster.py gathers plain data (dicts and lists) through the Kafka protocol, sampler.py keeps
samples over time, and these functions turn both into what the pages show.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "PartitionHealth",
    "Shown",
    "broker_states",
    "clamp_reset",
    "group_state_name",
    "lag_of",
    "partition_health",
    "rate_per_s",
    "show_bytes",
    "svg_polyline",
]


@dataclass(frozen=True)
class PartitionHealth:
    """Counts of the Overview page. A partition is offline without a live leader; under-replicated when its
    ISR is smaller than its replica set; under min ISR when its ISR is smaller than min.insync.replicas."""

    total: int = 0
    online: int = 0
    offline: int = 0
    under_replicated: int = 0
    under_min_isr: int = 0


def partition_health(
    partitions: Iterable[tuple[int, Sequence[int], Sequence[int], int]], live_brokers: set[int]
) -> PartitionHealth:
    """partitions: (leader, replicas, isr, min_insync_replicas) per partition."""
    total = online = offline = under_replicated = under_min_isr = 0
    for leader, replicas, isr, min_isr in partitions:
        total += 1
        if leader >= 0 and leader in live_brokers:
            online += 1
        else:
            offline += 1
        if len(isr) < len(replicas):
            under_replicated += 1
        if len(isr) < min_isr:
            under_min_isr += 1
    return PartitionHealth(total, online, offline, under_replicated, under_min_isr)


def broker_states(live: Iterable[int], replica_holders: Iterable[int]) -> dict[int, bool]:
    """{broker id: up}. Metadata lists only the live brokers; a broker that still holds replicas but is not
    in that list is down."""
    states = {node: False for node in replica_holders}
    states.update({node: True for node in live})
    return dict(sorted(states.items()))


def rate_per_s(samples: Sequence[tuple[float, int]]) -> float | None:
    """Units per second between the oldest and newest (time_s, counter) sample; None with fewer than two
    samples or no time between them. A counter that went down (a recreated topic) counts as no progress."""
    if len(samples) < 2:
        return None
    (t0, v0), (t1, v1) = samples[0], samples[-1]
    if t1 <= t0:
        return None
    return max(0, v1 - v0) / (t1 - t0)


def lag_of(committed: int | None, log_end_offset: int | None) -> int | None:
    """Kafka's consumer lag: log end offset minus the committed offset (never negative); None when either
    is unknown."""
    if committed is None or committed < 0 or log_end_offset is None or log_end_offset < 0:
        return None
    return max(0, log_end_offset - committed)


def clamp_reset(strategy: str, *, low: int, high: int, committed: int | None, value: int | None) -> int:
    """Where `group reset-offsets` puts one partition (kafka-consumer-groups.sh's rules): earliest → log start,
    latest → log end, offset → value, shift → committed + value (from log start when nothing is committed),
    timestamp → the offset found for it (`value`, -1 when none: the log end); always clamped to
    [log start, log end]."""
    if strategy == "earliest":
        target = low
    elif strategy == "latest":
        target = high
    elif strategy == "offset":
        target = low if value is None else value
    elif strategy == "shift":
        target = (low if committed is None else committed) + (value or 0)
    elif strategy == "timestamp":
        target = high if value is None or value < 0 else value
    else:
        raise ValueError(f"unknown reset strategy {strategy!r}")
    return min(max(target, low), high)


@dataclass(frozen=True)
class Shown:
    """A key or value as the message browser shows it: kind is null, json, text or base64."""

    kind: str
    text: str


def show_bytes(data: bytes | None) -> Shown:
    """JSON is pretty-printed, other UTF-8 text shown as is, anything else as base64."""
    if data is None:
        return Shown("null", "null")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Shown("base64", base64.b64encode(data).decode("ascii"))
    if any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        return Shown("base64", base64.b64encode(data).decode("ascii"))
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return Shown("json", json.dumps(json.loads(stripped), indent=2, ensure_ascii=False))
        except ValueError:
            pass
    return Shown("text", text)


def svg_polyline(
    points: Sequence[tuple[float, float]], *, width: int, height: int, y_max: float | None = None
) -> str:
    """The `points` attribute of an SVG polyline drawing (x, y) samples in a width x height box: x scaled from
    the first to the last sample, y from 0 (bottom) to y_max (top, default the largest y)."""
    if not points:
        return ""
    x0, x1 = points[0][0], points[-1][0]
    top = y_max if y_max is not None else max(y for _, y in points)
    span_x = (x1 - x0) or 1.0
    span_y = top or 1.0
    coords = []
    for x, y in points:
        px = (x - x0) / span_x * width
        py = height - min(y, span_y) / span_y * height
        coords.append(f"{px:.1f},{py:.1f}")
    return " ".join(coords)


def group_state_name(state: object) -> str:
    """Kafka's spelling of a consumer group state (Stable, PreparingRebalance, Empty, Dead, ...)."""
    name = str(getattr(state, "name", state))
    special = {"PREPARING_REBALANCING": "PreparingRebalance", "COMPLETING_REBALANCING": "CompletingRebalance"}
    return special.get(name, name.title())
