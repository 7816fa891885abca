"""`brook topic reassign` and `brook topic reassignments`: move partition replicas (kafka-reassign-partitions.sh).

`brook topic reassign TOPIC -p 0 -p 1 --replicas 2,3` asks the controller to move those partitions to brokers
2 and 3 (the first one is the preferred leader); `--cancel` instead goes back to the replicas they had before
the move; `--wait` then waits until the moves are done. `brook topic reassignments` lists the moves in progress,
as `kafka-reassign-partitions.sh --list` does. Both speak AlterPartitionReassignments and
ListPartitionReassignments (KIP-455) to the controller, over brook's own codec (confluent-kafka's AdminClient
has no reassignment calls).
"""

from __future__ import annotations

import time
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
from brook.cli.raw_request import call, error_name, exchange
from brook.common.errors import ErrorCode

__all__ = ["moves_of", "reassign", "reassignments"]

_ALTER, _LIST = 45, 46
_TIMEOUT_MS = 30_000
_POLL_S = 0.5


def _controller(metadata: Any = None) -> tuple[str, int]:
    """The controller's address, from the cluster metadata (only the controller serves these requests); asked
    of the cluster unless `metadata` (a confluent-kafka ClusterMetadata) is given."""
    if metadata is None:
        metadata = admin_client(settings()).list_topics(timeout=10)
    broker = metadata.brokers.get(metadata.controller_id)
    if broker is None:
        raise CliError("the cluster has no controller right now; try again")
    return broker.host, int(broker.port)


def _broker_ids(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of broker ids") from None
    if not ids:
        raise click.BadParameter("name at least one broker id")
    return ids


@click.command()
@click.argument("topic_name", metavar="TOPIC")
@click.option("--partition", "-p", "partitions", type=int, multiple=True, required=True, help="(repeatable)")
@click.option("--replicas", help="Target broker ids, comma-separated; the first is the preferred leader")
@click.option(
    "--cancel", is_flag=True, help="Cancel the moves in progress (back to the replicas before them)"
)
@click.option(
    "--wait", "wait_s", type=float, default=None, help="Then wait up to this many seconds for them to end"
)
@client_options
@format_option
def reassign(
    topic_name: str, partitions: tuple[int, ...], replicas: str | None, cancel: bool, wait_s: float | None
) -> None:
    """Move partitions' replicas to other brokers (or cancel the moves in progress)."""
    if cancel == (replicas is not None):
        raise click.UsageError("give either --replicas or --cancel")
    target = None if cancel else _broker_ids(replicas or "")
    body = {
        "timeout": _TIMEOUT_MS,
        "topics": [
            {
                "name": topic_name,
                "partitions": [{"partition_index": p, "replicas": target} for p in sorted(set(partitions))],
            }
        ],
    }
    controller = _controller()
    response = call(controller, _ALTER, 0, body)
    rows: list[dict[str, Any]] = []
    started: list[int] = []
    for t in response.responses:
        for p in t.partitions:
            code = int(p.error_code) or int(response.error_code)
            error = (
                None
                if code == 0
                else f"{error_name(ErrorCode(code))}: {p.error_message or response.error_message or ''}"
            )
            if error is None:
                started.append(p.partition_index)
            rows.append({"partition": f"{t.name}-{p.partition_index}", "status": "OK", "error": error})
    if wait_s is not None and started:
        _wait_until_done(controller, topic_name, started, wait_s)
    emit(
        rows,
        lambda: render_table(
            ["PARTITION", "STATUS"],
            [
                (
                    r["partition"],
                    ("DONE" if wait_s is not None else r["status"]) if r["error"] is None else r["error"],
                )
                for r in rows
            ],
        ),
    )
    exit_if_failed(rows, "partition")


def _ongoing(controller: tuple[str, int], topics: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    response = call(controller, _LIST, 0, {"timeout": _TIMEOUT_MS, "topics": topics})
    if int(response.error_code) != 0:
        raise CliError(f"{error_name(ErrorCode(int(response.error_code)))}: {response.error_message or ''}")
    return [
        {
            "topic": t.name,
            "partition": p.partition_index,
            "replicas": list(p.replicas),
            "adding": list(p.adding_replicas),
            "removing": list(p.removing_replicas),
        }
        for t in response.topics
        for p in t.partitions
    ]


def moves_of(metadata: Any, name: str) -> dict[int, tuple[list[int], list[int]]]:
    """The moves in progress of topic `name`: partition -> (adding, removing) replicas, asked of the controller in
    `metadata` (a confluent-kafka ClusterMetadata). Empty when it cannot say (no controller, a broker without
    ListPartitionReassignments): kafka-topics.sh --describe then shows no move either."""
    broker = metadata.brokers.get(metadata.controller_id)
    topic = metadata.topics.get(name)
    if broker is None or topic is None:
        return {}
    body = {"timeout": _TIMEOUT_MS, "topics": [{"name": name, "partition_indexes": sorted(topic.partitions)}]}
    try:
        response = exchange((broker.host, int(broker.port)), _LIST, 0, body)
    except Exception:  # noqa: BLE001 - a describe shows what it can; moves are an extra
        return {}
    if int(response.error_code) != 0:
        return {}
    return {
        p.partition_index: (list(p.adding_replicas), list(p.removing_replicas))
        for t in response.topics
        if t.name == name
        for p in t.partitions
    }


def _wait_until_done(
    controller: tuple[str, int], topic_name: str, partitions: list[int], wait_s: float
) -> None:
    deadline = time.monotonic() + wait_s
    asked = [{"name": topic_name, "partition_indexes": partitions}]
    while _ongoing(controller, asked):
        if time.monotonic() >= deadline:
            raise CliError(f"the moves of {topic_name} are still in progress after {wait_s:g}s")
        time.sleep(_POLL_S)


@click.command()
@click.argument("topics", nargs=-1, metavar="[TOPIC]...")
@client_options
@format_option
def reassignments(topics: tuple[str, ...]) -> None:
    """List the replica moves in progress (all topics, or those named)."""
    asked = None
    metadata = admin_client(settings()).list_topics(timeout=10)
    if topics:
        asked = [
            {"name": name, "partition_indexes": sorted(metadata.topics[name].partitions)}
            for name in topics
            if name in metadata.topics
        ]
    rows = _ongoing(_controller(metadata), asked) if asked != [] else []
    emit(
        rows,
        lambda: render_table(
            ["TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING"],
            [(r["topic"], r["partition"], r["replicas"], r["adding"], r["removing"]) for r in rows],
        ),
    )
