"""bench/targets.py: one `make bench` run's files -> issue 17's targets table (verdicts, ratios, n/a, loads)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "targets.py"
_SPEC = importlib.util.spec_from_file_location("bench_targets", _PATH)
assert _SPEC is not None
assert _SPEC.loader is not None
targets = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_targets"] = targets
_SPEC.loader.exec_module(targets)


def sample(msg_s: float, *, cpu_us: float = 10.0, load: float = 1.0, **extra: float) -> dict[str, Any]:
    """A workloads.Sample as run.py and cluster_bench.py store it (dataclasses.asdict), over one second."""
    messages = 10_000
    wall_s = messages / msg_s
    return {
        "messages": messages,
        "bytes": messages * 1024,
        "wall_s": wall_s,
        "cpu_s": cpu_us * messages / 1e6,
        "rss_bytes": 100_000_000,
        "client_cpu_s": 0.5,
        "client_thread_s": 0.0,
        "extra": {**extra, "load avg": load},
    }


def run_doc() -> dict[str, Any]:
    return {
        "script": "run",
        "brokers": {"brook": "brook abc", "kafka": "Apache Kafka 4.4.0"},
        "sessions": [],
        "samples": {
            # brook 2x Kafka, Kafka's three sessions: median 10,000
            "produce 1KiB acks=1 p1 [java]": {
                "brook": [sample(20_000, cpu_us=5, load=1.5)],
                "kafka": [sample(9_000, load=2.0), sample(10_000, load=3.0), sample(50_000, load=2.5)],
            },
            # exactly at the bound: 1.0x
            "produce 1KiB acks=1 p1 [py]": {"brook": [sample(30_000)], "kafka": [sample(30_000)]},
            # below it, and a CPU per message above Kafka's
            "consume 1KiB p1 [py]": {
                "brook": [sample(15_000, cpu_us=12)],
                "kafka": [sample(30_000, cpu_us=10)],
            },
            # Kafka failed it in every session
            "consume 1KiB p1 [java]": {"brook": [sample(40_000)], "kafka": []},
            "produce 100B acks=1 p1 [py]": {
                "brook": [sample(1e6, cpu_us=0.5)],
                "kafka": [sample(5e5, cpu_us=1)],
            },
            # Kafka's CPU clock did not tick (10 ms ticks) in a short run
            "consume 100B p1 [py]": {"brook": [sample(1e6, cpu_us=0.5)], "kafka": [sample(1e6, cpu_us=0)]},
            "produce 1KiB transactional 100/txn p1 [py]": {
                "brook": [sample(5_000, load=4.0)],
                "kafka": [sample(9_000, load=5.0)],
            },
            "latency 10k/s acks=all [go]": {
                "brook": [sample(10_000, e2e_p99_ms=7.0)],
                "kafka": [sample(10_000, e2e_p99_ms=7.0)],
            },
        },
        "gigabyte": {},
        "transactional_over_plain": {"acks=1": {"brook": 0.5, "kafka": 0.9}, "idempotent": {"brook": 0.49}},
    }


def scale_doc() -> dict[str, Any]:
    """scale_bench.py's results: one entry per scenario, every broker's figures (as its table prints them)."""
    return {
        "script": "scale",
        "args": {"partitions": "1000,10000", "connections": 500},
        "scenarios": [
            {
                "title": "1,000 partitions [py]",
                "kind": "partitions",
                "size": 1000,
                "client": "py",
                "brokers": {"brook": {"start after kill -9 s": 99.0, "load avg": 1.0}},
            },
            {
                "title": "10,000 partitions [py]",
                "kind": "partitions",
                "size": 10_000,
                "client": "py",
                "brokers": {
                    "brook": {
                        "start after clean stop s": 10.0,
                        "start after kill -9 s": 10.5,
                        "rss MB": 999.0,
                        "rss after restart MB": 120.0,
                        "load avg": 2.0,
                    },
                    "kafka": {"start after clean stop s": 20.0, "rss MB": 1500.0, "load avg": 3.0},
                },
            },
            {
                "title": "500 producer connections, 2 msg/s each [go]",
                "kind": "connections",
                "size": 500,
                "client": "go",
                "round": 1,
                "brokers": {
                    "brook": {
                        "load avg at start": 1.0,
                        "500 producers: errors": 1,
                        "500 producers: load avg": 3.0,
                        "p99 N / 1 producer": 2.5,
                    },
                    "kafka": {"500 producers: errors": 0, "p99 N / 1 producer": 5.0},
                },
            },
        ],
    }


def by_workload(table: list[Any], target: str) -> dict[str, Any]:
    return {r.workload: r for r in table if r.target == target}


@pytest.mark.parametrize(
    ("value", "at_least", "expected"),
    [
        (1.0, True, "met"),
        (1.01, True, "met"),
        (0.99, True, "NOT met"),
        (1.0, False, "met"),
        (0.99, False, "met"),
        (1.01, False, "NOT met"),
        (float("nan"), True, "n/a: figure is NaN"),
    ],
)
def test_verdict_at_above_and_below_the_bound(value: float, at_least: bool, expected: str) -> None:
    assert targets.verdict(value, 1.0, at_least=at_least) == expected


def test_ratio_targets_one_row_per_workload_with_medians_and_loads() -> None:
    table = targets.rows({"run": run_doc()})
    produce = by_workload(table, "produce 1 KiB: msg/s")
    # the transactional produce is issue 14's row, not a 1 KiB produce row
    assert list(produce) == ["produce 1KiB acks=1 p1 [java]", "produce 1KiB acks=1 p1 [py]"]
    java = produce["produce 1KiB acks=1 p1 [java]"]
    assert (java.brook, java.kafka, java.ratio, java.verdict) == (20_000, 10_000, 2.0, "met")
    assert java.load == "1.5 / 2.0-3.0"
    assert produce["produce 1KiB acks=1 p1 [py]"].verdict == "met"  # 1.0x: at the bound
    consume = by_workload(table, "consume 1 KiB: msg/s")
    assert consume["consume 1KiB p1 [py]"].ratio == 0.5
    assert consume["consume 1KiB p1 [py]"].verdict == "NOT met"
    assert consume["consume 1KiB p1 [java]"].verdict == "n/a: no Kafka figure (not run or failed)"
    cpu = by_workload(table, "broker CPU per message: us")
    assert set(cpu) == {
        "produce 1KiB acks=1 p1 [java]",
        "produce 1KiB acks=1 p1 [py]",
        "consume 1KiB p1 [py]",
        "consume 1KiB p1 [java]",
        "produce 100B acks=1 p1 [py]",
        "consume 100B p1 [py]",
    }
    assert cpu["consume 100B p1 [py]"].verdict == "n/a: Kafka's figure is 0 (too few CPU clock ticks)"
    assert cpu["produce 1KiB acks=1 p1 [java]"].ratio == pytest.approx(0.5)
    assert cpu["consume 1KiB p1 [py]"].verdict == "NOT met"  # 12 us against 10 us
    assert cpu["produce 100B acks=1 p1 [py]"].verdict == "met"
    (latency,) = by_workload(table, "e2e p99 at 10k msg/s: ms").values()
    assert (latency.workload, latency.ratio, latency.verdict) == ("latency 10k/s acks=all [go]", 1.0, "met")


def test_a_script_or_a_scenario_missing_from_the_run_is_one_n_a_row_per_target() -> None:
    table = targets.rows({"run": run_doc()})
    (cluster,) = by_workload(table, "3-broker RF=3 acks=all: msg/s").values()
    assert cluster.verdict == "n/a: no cluster.json in this run"
    scale_targets = [r for r in table if r.target.startswith(("10,000", "500"))]
    assert len(scale_targets) == len(targets.SCALE_TARGETS)
    assert all(r.verdict == "n/a: no scale.json in this run" for r in scale_targets)
    only_1000 = scale_doc()
    only_1000["scenarios"] = only_1000["scenarios"][:1]
    table = targets.rows({"scale": only_1000})
    (start,) = by_workload(table, "10,000 partitions: start-up after kill -9").values()
    assert start.verdict == "n/a: scenario not run (scale_bench.py --partitions 10000)"
    assert all(r.verdict == "n/a: no run.json in this run" for r in table if r.target.startswith("issue 14"))


def test_scale_targets_on_brooks_own_figures() -> None:
    table = targets.rows({"scale": scale_doc()})

    def row(target: str) -> Any:
        (only,) = by_workload(table, target).values()
        return only

    clean = row("10,000 partitions: start-up after clean stop")
    assert (clean.brook, clean.kafka, clean.verdict, clean.load) == (10.0, 20.0, "met", "2.0 / 3.0")
    assert clean.bound_text == "<= 10 s"
    assert row("10,000 partitions: start-up after kill -9").verdict == "NOT met"  # 10.5 s
    assert row("10,000 partitions: RSS after produce").verdict == "met"  # 999 MB
    assert row("10,000 partitions: RSS after restart").kafka is None
    assert row("10,000 partitions: RSS after restart").verdict == "met"  # brook's own figure: no peer needed
    errors = row("500 producer connections: errors")
    assert (errors.workload, errors.verdict) == ("500 producer connections, 2 msg/s each [go]", "NOT met")
    assert errors.load == "1.0-3.0 / -"
    assert row("500 producer connections: p99 / 1 connection's").verdict == "NOT met"  # 2.5x


def test_transactional_ratios_of_issue_14() -> None:
    table = targets.rows({"run": run_doc()})
    acks1 = next(r for r in table if r.target == "issue 14: transactional 100/txn msg/s over acks=1")
    assert (acks1.brook, acks1.kafka, acks1.verdict, acks1.load) == (0.5, 0.9, "met", "4.0 / 5.0")
    idem = next(r for r in table if r.target == "issue 14: transactional 100/txn msg/s over idempotent")
    assert (idem.brook, idem.kafka, idem.verdict) == (0.49, None, "NOT met")


def test_markdown_and_text_tables_have_a_line_per_row() -> None:
    table = targets.rows({"run": run_doc(), "scale": scale_doc()})
    lines = targets.markdown_table(table).splitlines()
    assert len(lines) == len(table) + 2
    assert all(line.count(" | ") == len(targets.HEADER) - 1 for line in lines[2:])
    assert (
        "| produce 1 KiB: msg/s | produce 1KiB acks=1 p1 [java] | 20,000 | 10,000 | 2 | >= 1.0x Kafka | met |"
        in (targets.markdown_table(table))
    )
    assert len(targets.text_table(table).splitlines()) == len(table) + 1


def test_results_files_of_one_run_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(targets.RUN_DIR_ENV, str(tmp_path / "run-1"))
    written = targets.write_results("scale", {"scenarios": []})
    assert written == tmp_path / "run-1" / "scale.json"
    old = tmp_path / "20261130-170021.json"  # run.py's file from before it named its script
    old.write_text(json.dumps({"samples": {}}))
    docs = targets.load_docs([tmp_path / "run-1", old])
    assert sorted(docs) == ["run", "scale"]
    assert docs["scale"]["scenarios"] == []
    assert docs["run"]["file"] == str(old)


def test_main_prints_a_run_directorys_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(targets.RUN_DIR_ENV, str(tmp_path))
    targets.write_results("run", run_doc())
    targets.write_results("scale", scale_doc())
    assert targets.main([str(tmp_path), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "- kafka: Apache Kafka 4.4.0" in out
    assert (
        "| 3-broker RF=3 acks=all: msg/s | - | - | - | - | >= 0.8x Kafka | n/a: no cluster.json in this run |"
        in out
    )
    assert (
        "| 10,000 partitions: start-up after kill -9 | 10,000 partitions [py] | 10.5 | - | - | <= 10 s | NOT met |"
        in out
    )


def test_a_standalone_scripts_file_is_found_by_what_it_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without $BENCH_RUN_DIR, run.py writes bench/results/<time>-run.json; targets.py, given that directory,
    reads it as run.py's (the newest one, over an older <time>.json), by its `script` key, not by its name."""
    monkeypatch.delenv(targets.RUN_DIR_ENV, raising=False)
    monkeypatch.setattr(targets, "RESULTS", tmp_path)
    older = tmp_path / "20261130-170021.json"  # run.py's name and content before it named its script
    older.write_text(json.dumps({"samples": {}}))
    written = targets.write_results("run", run_doc())
    cluster = targets.write_results("cluster", {"samples": {}})
    assert written.parent == tmp_path
    assert re.fullmatch(r"\d{8}-\d{6}-run\.json", written.name)
    assert re.fullmatch(r"\d{8}-\d{6}-cluster\.json", cluster.name)
    docs = targets.load_docs([tmp_path])
    assert (docs["run"]["file"], docs["cluster"]["file"]) == (str(written), str(cluster))
    (latency,) = by_workload(targets.rows(docs), "e2e p99 at 10k msg/s: ms").values()
    assert latency.verdict == "met"
