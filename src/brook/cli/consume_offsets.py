"""Where `brook consume` starts, and what it does when that offset is gone (auto.offset.reset).

kafka-console-consumer.sh hands an out-of-range position to the consumer's `auto.offset.reset`: `latest`
(the console consumer's default without --from-beginning), `earliest`, or `none`, which makes the tool
fail. brook does the same and says so on stderr: librdkafka is told `auto.offset.reset=error`, so every reset
reaches the consume loop, which applies the user's policy through `decide_reset` (a pure function) and prints
one warning naming the partition, the offset asked for and where reading resumes. With `none` the command
exits non-zero with one line instead. A group without a committed offset starts per the policy silently
(there is nothing surprising about it), or fails under `none` as Kafka's NoOffsetForPartitionException does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import click

__all__ = [
    "EARLIEST",
    "LATEST",
    "NONE",
    "Reset",
    "decide_reset",
    "parse_offset",
    "parse_reset_policy",
    "parse_timestamp",
    "tail_start",
]

EARLIEST, LATEST, NONE = "earliest", "latest", "none"

# librdkafka's and kcat's spellings map onto Kafka's three policies.
_POLICIES = {
    "earliest": EARLIEST,
    "smallest": EARLIEST,
    "beginning": EARLIEST,
    "latest": LATEST,
    "largest": LATEST,
    "end": LATEST,
    "none": NONE,
    "error": NONE,
}

_EARLIEST_WORDS = {"earliest", "beginning", "start", "oldest"}
_LATEST_WORDS = {"latest", "end", "newest"}

# confluent_kafka's logical offsets (OFFSET_BEGINNING, OFFSET_END), kept here so this module stays pure.
OFFSET_BEGINNING = -2
OFFSET_END = -1


def parse_reset_policy(value: str, param_hint: str = "auto.offset.reset") -> str:
    policy = _POLICIES.get(value.strip().lower())
    if policy is None:
        raise click.BadParameter(f"expected earliest, latest or none, got {value!r}", param_hint=param_hint)
    return policy


@dataclass(frozen=True)
class Reset:
    """What to do about a partition whose position is gone: resume at `resume`, or fail (resume None).
    `message` is the warning (or the error) for stderr."""

    resume: int | None
    message: str


def decide_reset(
    policy: str, topic: str, partition: int, requested: int | None, low: int, high: int
) -> Reset:
    """`requested` is the offset the consumer asked for, None when a group had no committed offset.
    `low`/`high` are the partition's log start and end offsets."""
    where = f"{topic}/{partition}"
    if requested is None or requested < 0:
        if policy == NONE:
            return Reset(None, f"{where}: no committed offset and auto.offset.reset=none")
        return Reset(low if policy == EARLIEST else high, "")
    gone = f"{where}: offset {requested} is out of range (log start {low}, log end {high})"
    if policy == NONE:
        return Reset(None, f"{gone} and auto.offset.reset=none")
    resume = low if policy == EARLIEST else high
    return Reset(resume, f"{gone}; auto.offset.reset={policy} resumes at offset {resume}")


def parse_offset(text: str) -> int:
    """--offset: a number; -N (N records before the end), returned as a tail marker that tail_start
    resolves against the log; or a word, returned as OFFSET_BEGINNING/OFFSET_END."""
    lowered = text.strip().lower()
    if lowered in _EARLIEST_WORDS:
        return OFFSET_BEGINNING
    if lowered in _LATEST_WORDS:
        return OFFSET_END
    try:
        value = int(lowered)
    except ValueError:
        raise click.BadParameter(
            f"expected a number, -N, 'earliest' or 'latest', got {text!r}", param_hint="--offset"
        ) from None
    if value < 0:
        return _TAIL_BASE + value  # a tail request: resolved against the log by tail_start
    return value


_TAIL_BASE = -(10**15)


def tail_start(marker: int, low: int, high: int) -> int | None:
    """The start offset for a tail marker from parse_offset (N records before the end, never before the
    log start), or None when `marker` is not a tail request."""
    if marker > _TAIL_BASE // 2:
        return None
    n = marker - _TAIL_BASE  # negative: -N
    return max(low, high + n)


def parse_timestamp(text: str, param_hint: str = "--timestamp") -> int:
    """Milliseconds since the epoch, from a number of ms or an ISO-8601 time (UTC unless it says otherwise)."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        value = int(text)
    else:
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise click.BadParameter(
                f"expected milliseconds since the epoch or an ISO-8601 time, got {text!r}",
                param_hint=param_hint,
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        value = int(when.timestamp() * 1000)
    if value < 0:
        raise click.BadParameter(f"a time before 1970 ({text!r}) matches no record", param_hint=param_hint)
    return value
