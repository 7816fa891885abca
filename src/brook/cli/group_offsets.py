"""`brook group delete-offsets`: remove a group's committed offsets for topics (kafka-consumer-groups.sh
--delete-offsets, KIP-496's OffsetDelete). The broker refuses partitions of topics the group's live members
are subscribed to (GROUP_SUBSCRIBED_TO_TOPIC); an empty group loses them at once.

confluent-kafka's AdminClient has no OffsetDelete call, so it goes to the group coordinator over a plain
socket, encoded by brook's codec.
"""

from __future__ import annotations

from typing import Any

import click

from brook.cli._common import (
    CliError,
    admin_client,
    client_options,
    emit,
    exit_if_failed,
    format_option,
    render_table,
    settings,
)
from brook.cli.raw_request import call_coordinator, error_name

__all__ = ["delete_offsets", "parse_topic_partitions"]

_OFFSET_DELETE, _VERSION = 47, 0


def parse_topic_partitions(spec: str, option: str = "--topic") -> tuple[str, list[int]]:
    """`topic` or `topic:0,1,2` (Kafka's --topic syntax) → (topic, partitions; empty means all)."""
    topic, _, parts = spec.partition(":")
    if not topic:
        raise click.BadParameter(f"expected TOPIC or TOPIC:P,P, got {spec!r}", param_hint=option)
    try:
        wanted = [int(p) for p in parts.split(",") if p.strip()] if parts else []
    except ValueError:
        raise click.BadParameter(f"expected TOPIC or TOPIC:P,P, got {spec!r}", param_hint=option) from None
    if any(p < 0 for p in wanted):
        raise click.BadParameter(f"partitions are numbered from 0: {spec!r}", param_hint=option)
    return topic, wanted


@click.command(name="delete-offsets")
@click.argument("group_arg", required=False)
@click.option("--group", "-g", "group_opt", default=None, metavar="GROUP", help="Group (Kafka's flag)")
@click.option(
    "--topic", "-t", "topic_specs", multiple=True, metavar="TOPIC[:P,P]", help="Topic, optionally partitions"
)
@client_options
@format_option
def delete_offsets(group_arg: str | None, group_opt: str | None, topic_specs: tuple[str, ...]) -> None:
    """Delete a group's committed offsets of topics (all partitions, or TOPIC:P,P)."""
    name = group_arg or group_opt
    if not name or (group_arg and group_opt and group_arg != group_opt):
        raise click.UsageError("name one group (as an argument or with --group)")
    if not topic_specs:
        raise click.UsageError("name the topics whose offsets go with --topic TOPIC[:P,P]")
    wanted = [parse_topic_partitions(spec) for spec in topic_specs]
    listed = admin_client(settings()).list_topics(timeout=15).topics
    topics: dict[str, list[int]] = {}
    for topic, parts in wanted:
        found = listed.get(topic)
        if found is None or found.error is not None:
            raise CliError(f"{topic}: Broker: Unknown topic or partition (UNKNOWN_TOPIC_OR_PART)")
        topics.setdefault(topic, [])
        topics[topic].extend(p for p in (parts or sorted(found.partitions)) if p not in topics[topic])
    body = {
        "group_id": name,
        "topics": [
            {"name": t, "partitions": [{"partition_index": p} for p in parts]} for t, parts in topics.items()
        ],
    }
    response = call_coordinator(name, _OFFSET_DELETE, _VERSION, body)
    if int(response.error_code) != 0:
        raise CliError(f"group {name}: {error_name(response.error_code)}")
    rows: list[dict[str, Any]] = [
        {
            "topic": t.name,
            "partition": p.partition_index,
            "status": "Successful" if int(p.error_code) == 0 else "Error",
            "error": None if int(p.error_code) == 0 else error_name(p.error_code),
            "where": f"{t.name}/{p.partition_index}",
        }
        for t in response.topics
        for p in t.partitions
    ]
    emit(
        [{k: v for k, v in r.items() if k != "where"} for r in rows],
        lambda: render_table(
            ["TOPIC", "PARTITION", "STATUS"],
            [(r["topic"], r["partition"], r["status"] if r["error"] is None else r["error"]) for r in rows],
        ),
    )
    exit_if_failed(rows, "where")
