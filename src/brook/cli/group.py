"""`brook group`: list, describe, delete, reset-offsets (like kafka-consumer-groups.sh / `rpk group`).

`describe` prints kafka-consumer-groups.sh's exact columns, so scripts that parse them keep working.
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
    result_of,
    results_by_name,
    settings,
)
from brook.cli.group_offsets import delete_offsets
from brook.cli.group_reset import as_topic_specs, duration_ms, export_csv, read_reset_file

__all__ = ["DESCRIBE_COLUMNS", "group"]

DESCRIBE_COLUMNS = [
    "GROUP",
    "TOPIC",
    "PARTITION",
    "CURRENT-OFFSET",
    "LOG-END-OFFSET",
    "LAG",
    "CONSUMER-ID",
    "HOST",
    "CLIENT-ID",
]
_INACTIVE = {"EMPTY", "DEAD", "UNKNOWN"}


def _groups_arg(func: Any) -> Any:
    func = click.option(
        "--group", "-g", "group_opts", multiple=True, metavar="GROUP", help="Group (Kafka's flag)"
    )(func)
    return click.argument("groups", nargs=-1)(func)


def _names(groups: tuple[str, ...], group_opts: tuple[str, ...]) -> list[str]:
    names = list(dict.fromkeys([*groups, *group_opts]))
    if not names:
        raise click.UsageError("name a group (as an argument or with --group)")
    return names


@click.group()
def group() -> None:
    """List, describe, delete consumer groups and reset their offsets."""


@group.command(name="list")
@click.option(
    "--state", is_flag=True, help="Show each group's state (kafka-consumer-groups.sh --list --state)"
)
@client_options
@format_option
def list_(state: bool) -> None:
    """List consumer groups."""
    admin = admin_client(settings())
    result = result_of(admin.list_consumer_groups(request_timeout=15.0), "cannot list groups")
    if result.errors:
        raise CliError(f"cannot list groups: {result.errors[0]}")
    rows = sorted(
        ({"group": g.group_id, "state": _state_name(g.state)} for g in result.valid), key=lambda r: r["group"]
    )
    if state:
        emit(rows, lambda: render_table(["GROUP", "STATE"], [(r["group"], r["state"]) for r in rows]))
    else:
        emit(rows, lambda: "\n".join(r["group"] for r in rows))


group.add_command(list_, name="ls")


def _state_name(state: Any) -> str:
    """ConsumerGroupState.STABLE -> 'Stable', as Kafka prints it ('PreparingRebalance' etc.)."""
    name = getattr(state, "name", str(state))
    return {
        "PREPARING_REBALANCING": "PreparingRebalance",
        "COMPLETING_REBALANCING": "CompletingRebalance",
    }.get(name, name.capitalize())


def _describe(admin: Any, name: str) -> Any:
    futures = admin.describe_consumer_groups([name], request_timeout=15.0)
    return result_of(futures[name], f"group {name}")


def _committed(admin: Any, name: str) -> dict[tuple[str, int], int]:
    from confluent_kafka import ConsumerGroupTopicPartitions

    futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(name)], request_timeout=15.0)
    result = result_of(futures[name], f"group {name}")
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions or [] if tp.offset >= 0}


def _existing(admin: Any, tps: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], list[str]]:
    """The partitions that exist now, and the topics (sorted) of those that do not (e.g. deleted since the
    offsets were committed): group tooling shows what it can and names the rest, never aborting on them."""
    if not tps:
        return [], []
    metadata = admin.list_topics(timeout=15)
    present, missing = [], set()
    for topic, partition in tps:
        t = metadata.topics.get(topic)
        if t is None or t.error is not None or partition not in t.partitions:
            missing.add(topic)
        else:
            present.append((topic, partition))
    return present, sorted(missing)


def _note_missing(name: str, missing: list[str]) -> None:
    for topic in missing:
        click.echo(f"Note: topic '{topic}' of group '{name}' does not exist (deleted?); skipped.", err=True)


def _log_offsets(admin: Any, tps: list[tuple[str, int]], spec: Any) -> dict[tuple[str, int], int]:
    from confluent_kafka import TopicPartition

    if not tps:
        return {}
    futures = admin.list_offsets({TopicPartition(t, p): spec for t, p in tps}, request_timeout=15.0)
    return {
        (tp.topic, tp.partition): result_of(f, f"{tp.topic}/{tp.partition}").offset
        for tp, f in futures.items()
    }


def _describe_rows(admin: Any, name: str) -> tuple[Any, str, list[dict[str, Any]]]:
    from confluent_kafka.admin import OffsetSpec

    desc = _describe(admin, name)
    state = _state_name(desc.state)
    committed = _committed(admin, name)
    owner: dict[tuple[str, int], Any] = {}
    idle_members = []
    for member in desc.members or []:
        tps = member.assignment.topic_partitions if member.assignment else []
        for tp in tps:
            owner[(tp.topic, tp.partition)] = member
        if not tps:
            idle_members.append(member)
    keys = sorted(set(committed) | set(owner))
    present, missing = _existing(admin, keys)
    _note_missing(name, missing)
    end = _log_offsets(admin, present, OffsetSpec.latest())
    rows = []
    for topic, partition in keys:
        current = committed.get((topic, partition))
        log_end = end.get((topic, partition))
        member = owner.get((topic, partition))
        rows.append(
            {
                "group": name,
                "topic": topic,
                "partition": partition,
                "current_offset": current,
                "log_end_offset": log_end,
                "lag": log_end - current if current is not None and log_end is not None else None,
                "consumer_id": member.member_id if member else None,
                "host": (member.host or None) if member else None,
                "client_id": member.client_id if member else None,
            }
        )
    for member in idle_members:
        rows.append(
            {
                "group": name,
                "topic": None,
                "partition": None,
                "current_offset": None,
                "log_end_offset": None,
                "lag": None,
                "consumer_id": member.member_id,
                "host": member.host or None,
                "client_id": member.client_id,
            }
        )
    return desc, state, rows


def _group_doc(admin: Any, name: str) -> dict[str, Any]:
    desc, state, rows = _describe_rows(admin, name)
    if state == "Dead" and not rows:
        raise CliError(f"Consumer group '{name}' does not exist.")
    coordinator = desc.coordinator
    members = []
    for m in desc.members or []:
        tps = m.assignment.topic_partitions if m.assignment else []
        members.append(
            {
                "consumer_id": m.member_id,
                "host": m.host or None,
                "client_id": m.client_id,
                "group_instance_id": m.group_instance_id,
                "partitions": sorted(f"{tp.topic}:{tp.partition}" for tp in tps),
            }
        )
    return {
        "group": name,
        "state": state,
        "coordinator": {"id": coordinator.id, "host": coordinator.host, "port": coordinator.port}
        if coordinator is not None
        else None,
        "assignment_strategy": desc.partition_assignor or None,
        "members": members,
        "partitions": rows,
    }


def _offsets_text(doc: dict[str, Any]) -> str:
    if not any(r["consumer_id"] for r in doc["partitions"]):
        click.echo(f"Consumer group '{doc['group']}' has no active members.", err=True)
    keys = [c.lower().replace("-", "_") for c in DESCRIBE_COLUMNS]
    return render_table(DESCRIBE_COLUMNS, [[r[k] for k in keys] for r in doc["partitions"]])


def _members_text(doc: dict[str, Any]) -> str:
    if not doc["members"]:
        click.echo(f"Consumer group '{doc['group']}' has no active members.", err=True)
    return render_table(
        ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"],
        [
            (doc["group"], m["consumer_id"], m["host"], m["client_id"], len(m["partitions"]))
            for m in doc["members"]
        ],
    )


def _state_text(doc: dict[str, Any]) -> str:
    c = doc["coordinator"]
    where = f"{c['host']}:{c['port']} ({c['id']})" if c else None
    return render_table(
        ["GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"],
        [(doc["group"], where, doc["assignment_strategy"], doc["state"], len(doc["members"]))],
    )


def _all_group_names(admin: Any) -> list[str]:
    listing = result_of(admin.list_consumer_groups(request_timeout=15.0), "cannot list groups")
    return sorted(g.group_id for g in listing.valid)


@group.command()
@_groups_arg
@click.option("--all-groups", is_flag=True, help="Describe every group")
@click.option("--members", "view", flag_value="members", help="One line per member (Kafka's --members)")
@click.option("--state", "view", flag_value="state", help="Coordinator, strategy, state (Kafka's --state)")
@click.option("--offsets", "view", flag_value="offsets", default=True, help="Offsets and lag (the default)")
@client_options
@format_option
def describe(groups: tuple[str, ...], group_opts: tuple[str, ...], all_groups: bool, view: str) -> None:
    """Committed offsets, lag and members of groups, in kafka-consumer-groups.sh's columns."""
    admin = admin_client(settings())
    if all_groups:
        names = _all_group_names(admin)
        docs = []
        for name in names:
            try:
                docs.append(_group_doc(admin, name))
            except CliError as exc:  # e.g. emptied (its topic deleted) since the listing: say so, go on
                click.echo(f"brook: {exc.format_message()}", err=True)
    else:
        docs = [_group_doc(admin, name) for name in _names(groups, group_opts)]
    render = {"members": _members_text, "state": _state_text}.get(view, _offsets_text)
    emit(docs if len(docs) != 1 else docs[0], lambda: "\n\n".join(render(d) for d in docs))


@group.command()
@_groups_arg
@client_options
@format_option
def delete(groups: tuple[str, ...], group_opts: tuple[str, ...]) -> None:
    """Delete groups (their committed offsets go too); a group with members is refused by the broker."""

    names = _names(groups, group_opts)
    admin = admin_client(settings())
    futures = admin.delete_consumer_groups(names, request_timeout=15.0)
    results = results_by_name(futures, names, key="group")
    ok = [r["group"] for r in results if r["error"] is None]
    failed = [r for r in results if r["error"] is not None]

    def text() -> str:
        lines = []
        if ok:
            quoted = ", ".join(f"'{g}'" for g in ok)
            lines.append(f"Deletion of requested consumer groups ({quoted}) was successful.")
        lines.extend(f"Deletion of group '{r['group']}' failed: {r['error']}" for r in failed)
        return "\n".join(lines)

    emit(results, text)
    exit_if_failed(results, "group")


@group.command(name="reset-offsets")
@_groups_arg
@click.option(
    "--topic",
    "-t",
    "topic_specs",
    multiple=True,
    metavar="TOPIC[:P,P]",
    help="Topic, optionally with partitions (topic:0,1)",
)
@click.option("--all-topics", is_flag=True, help="Every topic the group has committed offsets for")
@click.option("--all-groups", is_flag=True, help="Every group (Kafka's --all-groups)")
@click.option("--to-earliest", is_flag=True)
@click.option("--to-latest", is_flag=True)
@click.option("--to-offset", type=int, default=None)
@click.option("--to-datetime", default=None, metavar="YYYY-MM-DDTHH:mm:SS.sss[+HH:MM]")
@click.option("--shift-by", type=int, default=None)
@click.option("--by-duration", default=None, metavar="PnDTnHnMnS", help="The first offset this long ago")
@click.option("--to-current", is_flag=True, help="The committed offset (the log end where none)")
@click.option(
    "--from-file", type=click.File("r"), default=None, help="CSV of --export: [group,]topic,partition,offset"
)
@click.option("--export", is_flag=True, help="Print the plan as Kafka's CSV (for --from-file)")
@click.option("--execute", is_flag=True, help="Apply the new offsets (default: only show them)")
@click.option("--dry-run", is_flag=True, help="Only show the new offsets (the default)")
@client_options
@format_option
def reset_offsets(
    groups: tuple[str, ...],
    group_opts: tuple[str, ...],
    topic_specs: tuple[str, ...],
    all_topics: bool,
    all_groups: bool,
    to_earliest: bool,
    to_latest: bool,
    to_offset: int | None,
    to_datetime: str | None,
    shift_by: int | None,
    by_duration: str | None,
    to_current: bool,
    from_file: Any,
    export: bool,
    execute: bool,
    dry_run: bool,
) -> None:
    """Move a group's committed offsets; a dry run unless --execute. Refused while the group has members."""
    if all_groups and (groups or group_opts):
        raise click.UsageError("give groups or --all-groups, not both")
    names = [] if all_groups else _names(groups, group_opts)
    chosen = [
        s
        for s, on in (
            ("earliest", to_earliest),
            ("latest", to_latest),
            ("offset", to_offset is not None),
            ("datetime", to_datetime is not None),
            ("shift", shift_by is not None),
            ("duration", by_duration is not None),
            ("current", to_current),
            ("file", from_file is not None),
        )
        if on
    ]
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by, "
            "--by-duration, --to-current, --from-file"
        )
    planned = read_reset_file(from_file, names) if from_file is not None else None
    if by_duration is not None:
        to_datetime = str(int(time.time() * 1000) - duration_ms(by_duration))
    if planned is not None and (topic_specs or all_topics):
        raise click.UsageError("--from-file names the partitions: give no --topic or --all-topics")
    if planned is None and bool(topic_specs) == all_topics:
        raise click.UsageError("give --topic (repeatable) or --all-topics")
    if execute and dry_run:
        raise click.UsageError("--execute and --dry-run contradict each other")
    admin = admin_client(settings())
    if all_groups:
        names = _all_group_names(admin)
    docs = []
    for name in names:
        if planned is not None and name not in planned:
            continue  # --from-file has no offsets for this group
        docs.append(
            _reset_one(
                admin,
                name,
                topic_specs if planned is None else as_topic_specs(planned[name]),
                "datetime" if chosen[0] == "duration" else chosen[0],  # --by-duration: that long ago
                to_offset,
                to_datetime,
                shift_by,
                execute=execute,
                planned=None if planned is None else planned[name],
            )
        )
    rows = [r for d in docs for r in d]

    def text() -> str:
        if export:
            return export_csv(rows, several_groups=len(names) > 1)
        if not execute:
            click.echo("(dry run: pass --execute to apply these offsets)", err=True)
        return render_table(
            ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
            [(r["group"], r["topic"], r["partition"], r["new_offset"]) for r in rows],
        )

    emit(rows, text)


def _reset_one(
    admin: Any,
    name: str,
    topic_specs: tuple[str, ...],
    strategy: str,
    to_offset: int | None,
    to_datetime: str | None,
    shift_by: int | None,
    *,
    execute: bool,
    planned: dict[tuple[str, int], int] | None = None,
) -> list[dict[str, Any]]:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import OffsetSpec

    state = _state_name(_describe(admin, name).state)
    if state.upper() not in _INACTIVE:
        raise CliError(
            f"Assignments can only be reset if the group '{name}' is inactive, but the current state is {state}."
        )
    committed = _committed(admin, name)
    tps = _target_partitions(admin, topic_specs, committed)
    if not topic_specs:  # --all-topics: offsets of a topic deleted since cannot be reset
        tps, missing = _existing(admin, tps)
        _note_missing(name, missing)
    earliest = _log_offsets(admin, tps, OffsetSpec.earliest())
    latest = _log_offsets(admin, tps, OffsetSpec.latest())
    if strategy == "datetime":
        from brook.cli.consume_offsets import parse_timestamp

        by_time = _log_offsets(
            admin, tps, OffsetSpec.for_timestamp(parse_timestamp(to_datetime or "", "--to-datetime"))
        )
    rows: list[dict[str, Any]] = []
    for tp in tps:
        low, high = earliest[tp], latest[tp]
        if strategy == "earliest":
            new = low
        elif strategy == "latest":
            new = high
        elif strategy == "offset":
            new = to_offset if to_offset is not None else low
        elif strategy == "datetime":
            new = by_time[tp] if by_time[tp] >= 0 else high
        elif strategy == "current":
            new = committed.get(tp, high)
        elif strategy == "file" and planned is not None:
            new = planned[tp]
        else:
            new = committed.get(tp, low) + (shift_by or 0)
        new = min(max(new, low), high)  # Kafka clamps to the log's range, as kafka-consumer-groups.sh does
        rows.append(
            {
                "group": name,
                "topic": tp[0],
                "partition": tp[1],
                "current_offset": committed.get(tp),
                "new_offset": new,
            }
        )
    if execute and rows:
        request = ConsumerGroupTopicPartitions(
            name,
            [
                TopicPartition(str(r["topic"]), int(str(r["partition"])), int(str(r["new_offset"])))
                for r in rows
            ],
        )
        futures = admin.alter_consumer_group_offsets([request], request_timeout=15.0)
        result_of(futures[name], f"group {name}")
    return rows


def _target_partitions(
    admin: Any, topic_specs: tuple[str, ...], committed: dict[tuple[str, int], int]
) -> list[tuple[str, int]]:
    if not topic_specs:
        return sorted(committed)
    metadata = admin.list_topics(timeout=15)
    tps: list[tuple[str, int]] = []
    for spec in topic_specs:
        topic, _, parts = spec.partition(":")
        t = metadata.topics.get(topic)
        if t is None or t.error is not None:
            raise CliError(f"{topic}: Broker: Unknown topic or partition")
        if parts:
            try:
                wanted = [int(p) for p in parts.split(",") if p.strip()]
            except ValueError:
                raise click.BadParameter(
                    f"expected topic:0,1,2, got {spec!r}", param_hint="--topic"
                ) from None
            missing = [p for p in wanted if p not in t.partitions]
            if missing:
                raise CliError(f"{topic} has no partition {missing[0]}")
        else:
            wanted = sorted(t.partitions)
        tps.extend((topic, p) for p in wanted)
    return list(dict.fromkeys(tps))


group.add_command(delete_offsets)
