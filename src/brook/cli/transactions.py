"""`brook transactions`: list, describe, find-hanging, abort (like kafka-transactions.sh).

- `list`: every transaction of every broker's coordinator (ListTransactions), with Kafka's columns.
- `describe --transactional-id ID`: its coordinator's view (DescribeTransactions).
- `find-hanging`: open transactions on partition leaders (DescribeProducers) older than
  `--max-transaction-timeout` minutes that their coordinator does not know as open on that partition.
- `abort --topic T --partition P --start-offset O`: writes an ABORT marker for the producer whose open
  transaction starts at O (WriteTxnMarkers to the leader, as kafka-transactions.sh does), for a hanging
  transaction whose coordinator will never end it.
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
    format_option,
    render_table,
    settings,
)
from brook.cli.raw_request import bootstrap_address, error_name
from brook.cli.transactions_wire import describe_transactions, request

__all__ = ["transactions"]

_FIND_COORDINATOR, _LIST_TRANSACTIONS, _DESCRIBE_PRODUCERS, _WRITE_TXN_MARKERS = 10, 66, 61, 27


def _cluster() -> tuple[dict[int, tuple[str, int]], Any]:
    metadata = admin_client(settings()).list_topics(timeout=15)
    brokers = {b.id: (b.host, b.port) for b in metadata.brokers.values()}
    return brokers, metadata


@click.group()
def transactions() -> None:
    """List, describe, find hanging and abort transactions."""


@transactions.command(name="list")
@click.option("--state", "states", multiple=True, help="Only transactions in this state (repeatable)")
@click.option(
    "--producer-id", "producer_ids", type=int, multiple=True, help="Only this producer id (repeatable)"
)
@click.option("--duration-filter", type=int, default=-1, help="Only transactions open at least this many ms")
@client_options
@format_option
def list_(states: tuple[str, ...], producer_ids: tuple[int, ...], duration_filter: int) -> None:
    """List transactions (every broker's coordinator is asked)."""
    brokers, _ = _cluster()
    rows = []
    for node_id, address in sorted(brokers.items()):
        body = {
            "state_filters": list(states),
            "producer_id_filters": list(producer_ids),
            "duration_filter": duration_filter,
        }
        answer = request(address, _LIST_TRANSACTIONS, 1, body)
        if int(answer.error_code) != 0:
            raise CliError(f"broker {node_id}: {error_name(answer.error_code)}")
        for t in answer.transaction_states:
            rows.append(
                {
                    "transactional_id": t.transactional_id,
                    "coordinator": node_id,
                    "producer_id": int(t.producer_id),
                    "state": t.transaction_state,
                }
            )
    rows.sort(key=lambda r: r["transactional_id"])
    emit(
        rows,
        lambda: render_table(
            ["TransactionalId", "Coordinator", "ProducerId", "TransactionState"],
            [(r["transactional_id"], r["coordinator"], r["producer_id"], r["state"]) for r in rows],
        ),
    )


def _coordinator(transactional_id: str) -> tuple[int, tuple[str, int]]:
    found = request(bootstrap_address(), _FIND_COORDINATOR, 1, {"key": transactional_id, "key_type": 1})
    if int(found.error_code) != 0:
        raise CliError(f"transactional id {transactional_id}: {error_name(found.error_code)}")
    return int(found.node_id), (found.host, int(found.port))


@transactions.command()
@click.option("--transactional-id", required=True, help="The transactional id")
@client_options
@format_option
def describe(transactional_id: str) -> None:
    """Describe one transactional id, as its coordinator knows it."""
    node_id, address = _coordinator(transactional_id)
    (state,) = describe_transactions(address, [transactional_id])
    if state.error_code != 0:
        raise CliError(f"transactional id {transactional_id}: error {state.error_code}")
    now = int(time.time() * 1000)
    partitions = [f"{t}-{p}" for t, p in state.partitions]
    doc: dict[str, Any] = {
        "coordinator": node_id,
        "transactional_id": state.transactional_id,
        "producer_id": state.producer_id,
        "producer_epoch": state.producer_epoch,
        "state": state.state,
        "timeout_ms": state.timeout_ms,
        "start_time_ms": state.start_ms,
        "duration_ms": now - state.start_ms if state.start_ms >= 0 else None,
        "partitions": partitions,
    }
    columns = [
        "CoordinatorId",
        "TransactionalId",
        "ProducerId",
        "ProducerEpoch",
        "TransactionState",
        "TransactionTimeoutMs",
        "CurrentTransactionStartTimeMs",
        "TransactionDurationMs",
        "TopicPartitions",
    ]
    values = [
        node_id,
        state.transactional_id,
        state.producer_id,
        state.producer_epoch,
        state.state,
        state.timeout_ms,
        state.start_ms if state.start_ms >= 0 else "None",
        doc["duration_ms"] if doc["duration_ms"] is not None else "None",
        ",".join(partitions) or "None",
    ]
    emit(doc, lambda: render_table(columns, [values]))


def _open_transactions(
    brokers: dict[int, tuple[str, int]], metadata: Any, broker_id: int | None
) -> list[dict[str, Any]]:
    """Every producer with an open transaction on a partition, asked of each partition's leader."""
    by_leader: dict[int, dict[str, list[int]]] = {}
    for name, topic in metadata.topics.items():
        for index, partition in topic.partitions.items():
            if partition.leader >= 0 and (broker_id is None or partition.leader == broker_id):
                by_leader.setdefault(partition.leader, {}).setdefault(name, []).append(index)
    found = []
    for leader, topics in sorted(by_leader.items()):
        body = {"topics": [{"name": t, "partition_indexes": ps} for t, ps in topics.items()]}
        answer = request(brokers[leader], _DESCRIBE_PRODUCERS, 0, body)
        for topic in answer.topics:
            for p in topic.partitions:
                for producer in p.active_producers:
                    if int(producer.current_txn_start_offset) >= 0:
                        found.append(
                            {
                                "topic": topic.name,
                                "partition": int(p.partition_index),
                                "producer_id": int(producer.producer_id),
                                "producer_epoch": int(producer.producer_epoch),
                                "coordinator_epoch": int(producer.coordinator_epoch),
                                "start_offset": int(producer.current_txn_start_offset),
                                "last_timestamp": int(producer.last_timestamp),
                                "leader": leader,
                            }
                        )
    return found


@transactions.command(name="find-hanging")
@click.option("--broker-id", type=int, default=None, help="Only partitions this broker leads")
@click.option("--max-transaction-timeout", type=int, default=15, help="Minutes (Kafka's default: 15)")
@client_options
@format_option
def find_hanging(broker_id: int | None, max_transaction_timeout: int) -> None:
    """Open transactions older than the timeout that no coordinator holds open on their partition."""
    brokers, metadata = _cluster()
    now = int(time.time() * 1000)
    open_txns = [
        t
        for t in _open_transactions(brokers, metadata, broker_id)
        if now - t["last_timestamp"] >= max_transaction_timeout * 60_000
    ]
    known: set[tuple[int, str, int]] = set()  # (producer id, topic, partition) open on a coordinator
    if open_txns:
        wanted = sorted({t["producer_id"] for t in open_txns})
        for address in brokers.values():
            body = {"state_filters": [], "producer_id_filters": wanted, "duration_filter": -1}
            listed = request(address, _LIST_TRANSACTIONS, 1, body)
            ids = [t.transactional_id for t in listed.transaction_states]
            if ids:
                for state in describe_transactions(address, ids):
                    if state.state in ("Ongoing", "PrepareCommit", "PrepareAbort"):
                        known.update((state.producer_id, topic, p) for topic, p in state.partitions)
    hanging = [t for t in open_txns if (t["producer_id"], t["topic"], t["partition"]) not in known]
    emit(
        hanging,
        lambda: render_table(
            [
                "Topic",
                "Partition",
                "ProducerId",
                "ProducerEpoch",
                "CoordinatorEpoch",
                "StartOffset",
                "LastTimestamp",
            ],
            [
                (
                    t["topic"],
                    t["partition"],
                    t["producer_id"],
                    t["producer_epoch"],
                    t["coordinator_epoch"],
                    t["start_offset"],
                    t["last_timestamp"],
                )
                for t in hanging
            ],
        ),
    )


@transactions.command()
@click.option("--topic", required=True)
@click.option("--partition", type=int, required=True)
@click.option("--start-offset", type=int, required=True, help="First offset of the hanging transaction")
@client_options
def abort(topic: str, partition: int, start_offset: int) -> None:
    """Write an ABORT marker for the open transaction starting at --start-offset."""
    brokers, metadata = _cluster()
    if topic not in metadata.topics or partition not in metadata.topics[topic].partitions:
        raise CliError(f"no partition {topic}-{partition}")
    leader = metadata.topics[topic].partitions[partition].leader
    candidates = [
        t
        for t in _open_transactions(brokers, metadata, leader)
        if (t["topic"], t["partition"], t["start_offset"]) == (topic, partition, start_offset)
    ]
    if not candidates:
        raise CliError(f"no open transaction starts at offset {start_offset} of {topic}-{partition}")
    txn = candidates[0]
    body = {
        "markers": [
            {
                "producer_id": txn["producer_id"],
                "producer_epoch": txn["producer_epoch"],
                "transaction_result": False,
                "topics": [{"name": topic, "partition_indexes": [partition]}],
                "coordinator_epoch": max(txn["coordinator_epoch"], 0),
            }
        ]
    }
    answer = request(brokers[leader], _WRITE_TXN_MARKERS, 1, body)
    code = int(answer.markers[0].topics[0].partitions[0].error_code)
    if code != 0:
        raise CliError(
            f"abort of producer {txn['producer_id']} on {topic}-{partition}: {error_name(answer.markers[0].topics[0].partitions[0].error_code)}"
        )
    click.echo(
        f"aborted the transaction of producer {txn['producer_id']} at {topic}-{partition} offset {start_offset}"
    )
