"""What a fault-injection run did to the data: pure functions over what clients were told and what they read.

Inputs, gathered by the run (see tests/chaos/run.py):
- `acks`: every record a producer got acknowledged (topic, partition, offset, value, time);
- `logs`: each partition read back from offset 0 after the run, as (offset, value) in read order;
- `commits`: every offset commit the group got acknowledged, and `commit_reads`: every committed offset read
  back (by a member taking a partition over, and once at the end).
Values identify their producer and its send order (`producer:sequence`, see `parse_value`).

Anomalies, counted independently (one lost record usually also shows as an inconsistent offset):
- lost: an acknowledged value that is nowhere in its partition;
- duplicated: copies beyond the first of any value in the logs (acknowledged or not);
- reordered: within a partition, a producer's value read after a later one of the same producer;
- inconsistent_offsets: an acknowledged offset that holds something else (or nothing) when read back (an ack
  without an offset, below 0, is only counted as `acked_without_offset`; librdkafka reports some so);
- commit_regressions: a committed offset read back below a commit acknowledged earlier for that partition.
And the longest time without any acknowledgement within the run's window.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Ack",
    "CheckReport",
    "CommitAck",
    "CommitRead",
    "check",
    "commit_regressions",
    "longest_gap_s",
    "parse_value",
]

Tp = tuple[str, int]


@dataclass(frozen=True)
class Ack:
    topic: str
    partition: int
    offset: int
    value: bytes
    time_s: float = 0.0


@dataclass(frozen=True)
class CommitAck:
    topic: str
    partition: int
    offset: int
    time_s: float


@dataclass(frozen=True)
class CommitRead:
    topic: str
    partition: int
    offset: int  # -1 (or below 0): nothing committed
    time_s: float


@dataclass
class CheckReport:
    acked: int = 0
    acked_without_offset: int = 0
    read: int = 0
    lost: int = 0
    duplicated: int = 0
    duplicated_values: int = 0
    reordered: int = 0
    inconsistent_offsets: int = 0
    commit_regressions: int = 0
    longest_gap_s: float = 0.0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def anomalies(self) -> int:
        return (
            self.lost + self.duplicated + self.reordered + self.inconsistent_offsets + self.commit_regressions
        )

    def summary(self) -> str:
        return (
            f"acked={self.acked} (without offset: {self.acked_without_offset}) read={self.read} "
            f"lost={self.lost} duplicated={self.duplicated} "
            f"(values={self.duplicated_values}) reordered={self.reordered} "
            f"inconsistent_offsets={self.inconsistent_offsets} commit_regressions={self.commit_regressions} "
            f"longest_gap_s={self.longest_gap_s:.1f}"
        )

    def _example(self, kind: str, text: str, limit: int = 5) -> None:
        found = self.examples.setdefault(kind, [])
        if len(found) < limit:
            found.append(text)


def parse_value(value: bytes) -> tuple[str, int] | None:
    """`b"<producer>:<sequence>"` → (producer, sequence); None for a value in another format."""
    producer, sep, sequence = value.rpartition(b":")
    if not sep or not sequence.isdigit():
        return None
    return producer.decode(errors="replace"), int(sequence)


def longest_gap_s(ack_times: Iterable[float], start_s: float, end_s: float) -> float:
    """The longest stretch of [start_s, end_s] without an acknowledgement (its edges count as the ends of
    gaps; acknowledgements outside the window are ignored)."""
    points = [start_s, *sorted(t for t in ack_times if start_s <= t <= end_s), end_s]
    return max(b - a for a, b in itertools.pairwise(points))


def commit_regressions(
    commits: Iterable[CommitAck], reads: Iterable[CommitRead]
) -> list[tuple[CommitRead, int]]:
    """Each committed offset read back below the highest commit acknowledged before it was read, with that
    commit's offset."""
    acked_by_tp: dict[Tp, list[CommitAck]] = defaultdict(list)
    for c in commits:
        acked_by_tp[(c.topic, c.partition)].append(c)
    found = []
    for r in reads:
        earlier = [c.offset for c in acked_by_tp.get((r.topic, r.partition), []) if c.time_s < r.time_s]
        if earlier and r.offset < max(earlier):
            found.append((r, max(earlier)))
    return found


def _count_reordered(report: CheckReport, tp: Tp, log: Sequence[tuple[int, bytes]], order: _Order) -> None:
    last: dict[str, int] = {}
    seen: set[bytes] = set()
    for offset, value in log:
        if value in seen:
            continue  # a duplicate is counted as one, not as a reordering too
        seen.add(value)
        parsed = order(value)
        if parsed is None:
            continue
        producer, sequence = parsed
        if producer in last and sequence < last[producer]:
            report.reordered += 1
            report._example(
                "reordered", f"{tp[0]}-{tp[1]}@{offset} {value!r} after sequence {last[producer]}"
            )
        last[producer] = max(sequence, last.get(producer, sequence))


_Order = Callable[[bytes], tuple[str, int] | None]


def check(
    acks: Iterable[Ack],
    logs: Mapping[Tp, Sequence[tuple[int, bytes]]],
    commits: Iterable[CommitAck] = (),
    commit_reads: Iterable[CommitRead] = (),
    window: tuple[float, float] | None = None,
    order: _Order = parse_value,
) -> CheckReport:
    """Compare what producers and the group were told with what was read back. `window`: (start, end) of the
    run on the clock of the acks' times, for the longest gap without an acknowledgement."""
    acks = list(acks)
    report = CheckReport(acked=len(acks), read=sum(len(log) for log in logs.values()))
    at_offset = {(tp, offset): value for tp, log in logs.items() for offset, value in log}
    values_in = {tp: {value for _, value in log} for tp, log in logs.items()}
    for a in acks:
        tp = (a.topic, a.partition)
        if a.value not in values_in.get(tp, ()):
            report.lost += 1
            report._example("lost", f"{a.topic}-{a.partition}@{a.offset} {a.value!r}")
        if a.offset < 0:
            report.acked_without_offset += 1
            continue
        held = at_offset.get((tp, a.offset))
        if held != a.value:
            report.inconsistent_offsets += 1
            report._example(
                "inconsistent", f"{a.topic}-{a.partition}@{a.offset} acked {a.value!r}, holds {held!r}"
            )
    copies = Counter(value for log in logs.values() for _, value in log)
    for value, count in copies.items():
        if count > 1:
            report.duplicated += count - 1
            report.duplicated_values += 1
            report._example("duplicated", f"{value!r} x{count}")
    for tp, log in logs.items():
        _count_reordered(report, tp, log, order)
    for read, committed in commit_regressions(commits, commit_reads):
        report.commit_regressions += 1
        report._example(
            "commit_regression", f"{read.topic}-{read.partition} read {read.offset} after commit {committed}"
        )
    if window is not None:
        report.longest_gap_s = longest_gap_s((a.time_s for a in acks), *window)
    return report
