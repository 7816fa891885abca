"""Go clients from the module proxy against a real brook: franz-go (idempotent producer with every codec, a
two-member consumer group that resumes from its commits, kadm admin, transactions) and IBM Sarama at its default
config.Version and at sarama.MaxVersion (idempotent SyncProducer, consumer group, ClusterAdmin).

The scenarios live in tests/clients/go (built by `make go-clients`); each run prints what the client saw.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.clients.go_driver import partition_offsets, run_go_driver

pytestmark = pytest.mark.integration

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def _view(r: dict[str, Any]) -> tuple[Any, ...]:
    return (r["partition"], r["offset"], r["key"], r["value"], sorted(r["headers"].items()))


def _assert_keyed_log(records: list[dict[str, Any]], total: int) -> None:
    """Offsets 0..n-1 in each partition, one partition per key, a key's values in the order they were sent."""
    assert len(records) == total
    for offsets in partition_offsets(records).values():
        assert offsets == list(range(len(offsets)))
    partition_of: dict[str, int] = {}
    sent_order: dict[str, list[int]] = {}
    for r in records:
        assert partition_of.setdefault(r["key"], r["partition"]) == r["partition"]
        sent_order.setdefault(r["key"], []).append(int(r["value"].split("-")[1][1:]))
    for order in sent_order.values():
        assert order == sorted(order)


def test_franz_go_idempotent_producer_every_codec(go_broker):
    report = run_go_driver("brookgo", "franz-produce", go_broker.bootstrap, "fz")
    assert sorted(report) == sorted(CODECS)
    for codec in CODECS:
        result = report[codec]
        assert result["producer_id"] >= 0, codec  # an idempotent producer got its id
        assert result["producer_epoch"] == 0
        consumed = result["consumed"]
        assert [_view(r) for r in consumed] == [_view(r) for r in result["produced"]], codec
        _assert_keyed_log(consumed, 40)
        assert sorted((r["headers"]["h"], r["value"]) for r in consumed) == sorted(
            (f"x{i}", f"{codec}-v{i}-{'brook' * 20}") for i in range(40)
        )
        assert all(r["headers"]["codec"] == codec for r in consumed)


def _assert_group_resumed(
    first: list[dict[str, Any]],
    committed_after_first: dict[str, Any],
    restarted: list[dict[str, Any]],
    committed_final: dict[str, Any],
    first_keys: range,
    later_keys: range,
) -> None:
    """The first members read every record once and committed it all; the restarted member read exactly the
    later records, each partition from its committed offset; the final commits are the log end offsets."""
    assert sorted(r["key"] for r in first) == sorted(f"k{i}" for i in first_keys)
    first_offsets = partition_offsets(first)
    for offsets in first_offsets.values():
        assert sorted(offsets) == list(range(len(offsets)))
    assert committed_after_first == {str(p): len(o) for p, o in first_offsets.items()}
    assert sorted(r["key"] for r in restarted) == sorted(f"k{i}" for i in later_keys)
    for p, offsets in partition_offsets(restarted).items():
        start = committed_after_first.get(str(p), 0)
        assert sorted(offsets) == list(range(start, start + len(offsets)))
    ends = {str(p): len(o) for p, o in first_offsets.items()}
    for p, offsets in partition_offsets(restarted).items():
        ends[str(p)] = ends.get(str(p), 0) + len(offsets)
    assert committed_final == ends


def test_franz_go_group_two_members_commit_and_restart_resumes(go_broker):
    report = run_go_driver("brookgo", "franz-group", go_broker.bootstrap, "fzg")
    a, b = report["first"]
    assert a["errors"] is None
    assert b["errors"] is None
    # Two members split the four partitions, each read only its own.
    assert a["partitions"]
    assert b["partitions"]
    assert sorted(a["partitions"] + b["partitions"]) == [0, 1, 2, 3]
    assert {r["partition"] for r in a["records"]} <= set(a["partitions"])
    assert {r["partition"] for r in b["records"]} <= set(b["partitions"])
    assert report["described"] == {
        "state": "Stable",
        "protocol_type": "consumer",
        "protocol": "cooperative-sticky",
        "members": 2,
        "error": "",
    }
    assert report["listed"] is True
    assert report["restarted"]["errors"] is None
    _assert_group_resumed(
        a["records"] + b["records"],
        report["committed_after_close"],
        report["restarted"]["records"],
        report["committed_final"],
        range(40),
        range(40, 60),
    )


def test_franz_go_kadm_admin(go_broker):
    report = run_go_driver("brookgo", "franz-admin", go_broker.bootstrap, "fza")
    sizes = report["log_dirs"]["partition_sizes"]
    assert sizes["0"] > 0  # ten records (DeleteRecords moves the log start, it frees no active segment)
    assert report == {
        "create": {"fza": "", "fza-other": ""},
        "create_again": "TOPIC_ALREADY_EXISTS: Topic with this name already exists.",
        "create_partitions": "",
        "partitions_after": 4,
        "describe": {
            "retention.ms": "3600000",
            "retention.ms.source": "DYNAMIC_TOPIC_CONFIG",
            "cleanup.policy": "delete",
        },
        "alter": "",
        "describe_after_alter": {"retention.ms": "7200000", "cleanup.policy": "compact"},
        "alter_unknown": "INVALID_CONFIG: Configuration is invalid.",
        # Ten records on partition 0, the first five an hour old; none on partition 1.
        "start_offsets": {"0": 0, "1": 0},
        "end_offsets": {"0": 10, "1": 0},
        "offsets_after_30min_ago": {"0": 5, "1": 0},
        "delete_records": {"low_watermark": 3, "error": ""},
        "start_offsets_after_delete": {"0": 3, "1": 0},
        # A group without members: its offsets are committed, fetched, deleted one partition at a time.
        "commit_offsets": "",
        "fetch_offsets": {"0": 7, "1": 0},
        "delete_offsets": "",
        "fetch_offsets_after_delete": {"1": 0},
        "delete_group": "",
        "group_listed_after_delete": False,
        "log_dirs": {"dirs": 1, "partition_sizes": {"0": sizes["0"], "1": 0}},
        "delete_topics": {"fza": "", "fza-other": ""},
        "gone_after_delete": True,
    }


@pytest.mark.parametrize("version", ["default", "max"])
def test_sarama_idempotent_sync_producer_every_codec(go_broker, version):
    report = run_go_driver("brookgo", "sarama-produce", go_broker.bootstrap, f"sp-{version}", version)
    assert sorted(report) == sorted(CODECS)
    for codec in CODECS:
        consumed = report[codec]["consumed"]
        assert [_view(r) for r in consumed] == [_view(r) for r in report[codec]["produced"]], codec
        _assert_keyed_log(consumed, 30)
        assert sorted(r["value"] for r in consumed) == sorted(f"{codec}-v{i}" for i in range(30))


@pytest.mark.parametrize("version", ["default", "max"])
def test_sarama_consumer_group_restart_resumes_from_commits(go_broker, version):
    report = run_go_driver("brookgo", "sarama-group", go_broker.bootstrap, f"sg-{version}", version)
    _assert_group_resumed(
        report["first"],
        report["committed_after_first"],
        report["restarted"],
        report["committed_final"],
        range(30),
        range(30, 50),
    )
    assert report["listed_protocol_type"] == "consumer"
    assert report["described_state"] == "Empty"  # both members left
    assert report["described_error"] == 0


@pytest.mark.parametrize("version", ["default", "max"])
def test_sarama_cluster_admin(go_broker, version):
    name = f"sa-{version}"
    report = run_go_driver("brookgo", "sarama-admin", go_broker.bootstrap, name, version)
    assert report == {
        "create": "",
        "create_again": f"kafka server: Topic with this name already exists - Topic '{name}' already exists.",
        "create_partitions": "",
        "listed_partitions": 3,
        "described_partitions": 3,
        "cluster": {"brokers": 1, "controller": 0},
        "describe": {"retention.ms": "3600000", "cleanup.policy": "delete"},
        "alter": "",
        "describe_after_alter": {"retention.ms": "7200000", "cleanup.policy": "delete"},
        "incremental_alter": "",
        "describe_after_incremental": {"retention.ms": "7200000", "cleanup.policy": "compact"},
        "delete_records": "",
        "offsets_after_delete": report["offsets_after_delete"],
        "delete_topic": "",
    }
    offsets = report["offsets_after_delete"]
    assert offsets["end"] > 0  # some of the 30 keyed records landed on partition 0
    assert offsets["start"] == offsets["end"] // 2


def test_franz_go_transactions_commit_abort_and_fencing(go_broker):
    """franz-go's transactional producer: a committed transaction is what read_committed shows, an aborted one
    only read_uncommitted; a second producer with the same transactional id aborts the first one's open
    transaction and fences it (its commit fails), and its own commit is visible."""
    report = run_go_driver("brookgo", "franz-txn", go_broker.bootstrap, "fztxn")
    assert report["committed"] == ["c0", "c1", "c2", "c3", "c4", "s0", "s1"]
    assert report["uncommitted"] == ["c0", "c1", "c2", "c3", "c4", "a0", "a1", "a2", "zombie", "s0", "s1"]
    assert report["zombie_error"].startswith("PRODUCER_FENCED")
