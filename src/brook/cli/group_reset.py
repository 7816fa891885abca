"""Parts of `brook group reset-offsets` that follow kafka-consumer-groups.sh's formats: the --export CSV and
the --from-file CSV it reads back (`topic,partition,offset` for one group, `group,topic,partition,offset` for
several), and --by-duration's ISO-8601 duration (java.time.Duration's `PnDTnHnMn.nS`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import IO, Any

import click

__all__ = ["as_topic_specs", "duration_ms", "export_csv", "read_reset_file"]

_DURATION = re.compile(
    r"(?P<sign>[-+]?)P(?:(?P<d>[-+]?\d+)D)?"
    r"(?:T(?:(?P<h>[-+]?\d+)H)?(?:(?P<m>[-+]?\d+)M)?(?:(?P<s>[-+]?\d+(?:[.,]\d{1,9})?)S)?)?",
    re.IGNORECASE,
)


def duration_ms(text: str) -> int:
    """`P1DT2H`, `PT30M`, `PT0.5S` → milliseconds; refused when it is not a duration or not positive."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or not any(match.group(g) for g in "dhms") or text.strip().upper().endswith("T"):
        raise click.BadParameter(
            f"expected an ISO-8601 duration like PT1H or P1DT12H, got {text!r}", param_hint="--by-duration"
        )
    seconds = (
        int(match.group("d") or 0) * 86_400
        + int(match.group("h") or 0) * 3_600
        + int(match.group("m") or 0) * 60
        + float((match.group("s") or "0").replace(",", "."))
    )
    if match.group("sign") == "-":
        seconds = -seconds
    if seconds <= 0:
        raise click.BadParameter(f"{text!r} is not a positive duration", param_hint="--by-duration")
    return round(seconds * 1000)


def export_csv(rows: Iterable[dict[str, Any]], *, several_groups: bool) -> str:
    lines = []
    for r in rows:
        fields = [r["topic"], r["partition"], r["new_offset"]]
        if several_groups:
            fields.insert(0, r["group"])
        lines.append(",".join(str(f) for f in fields))
    return "\n".join(lines)


def read_reset_file(fh: IO[str], groups: list[str]) -> dict[str, dict[tuple[str, int], int]]:
    """group → {(topic, partition): offset} from an --export CSV. Three columns mean the one group named;
    four name the group on each line (and only groups named on the command line are reset)."""
    plan: dict[str, dict[tuple[str, int], int]] = {}
    source = getattr(fh, "name", "--from-file")
    for number, raw in enumerate(fh, start=1):
        line = raw.strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) == 3:
            if len(groups) != 1:
                raise click.BadParameter(
                    f"{source} line {number}: three columns need exactly one --group",
                    param_hint="--from-file",
                )
            group, (topic, partition, offset) = groups[0], fields
        elif len(fields) == 4:
            group, topic, partition, offset = fields
        else:
            raise click.BadParameter(
                f"{source} line {number}: expected [group,]topic,partition,offset, got {line!r}",
                param_hint="--from-file",
            )
        try:
            tp, value = (topic, int(partition)), int(offset)
        except ValueError:
            raise click.BadParameter(
                f"{source} line {number}: partition and offset must be numbers, got {line!r}",
                param_hint="--from-file",
            ) from None
        if not topic or tp[1] < 0 or value < 0:
            raise click.BadParameter(
                f"{source} line {number}: {line!r} is not a valid reset", param_hint="--from-file"
            )
        plan.setdefault(group, {})[tp] = value
    unknown = sorted(set(plan) - set(groups))
    if unknown:
        raise click.BadParameter(
            f"{source} names group {unknown[0]!r}, which is not one of --group", param_hint="--from-file"
        )
    if not plan:
        raise click.BadParameter(f"{source} has no offsets", param_hint="--from-file")
    return plan


def as_topic_specs(plan: dict[tuple[str, int], int]) -> tuple[str, ...]:
    """A group's --from-file partitions as --topic specs (`topic:0,1`), so they are checked like --topic's."""
    by_topic: dict[str, list[int]] = {}
    for topic, partition in sorted(plan):
        by_topic.setdefault(topic, []).append(partition)
    return tuple(f"{t}:{','.join(str(p) for p in parts)}" for t, parts in by_topic.items())
