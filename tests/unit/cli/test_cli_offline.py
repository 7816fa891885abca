"""The CLI without a broker: output helpers, record formatting, perf summaries, bad input, startup cost."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from brook.cli._common import render_table, to_yaml
from brook.cli.consume_offsets import parse_timestamp
from brook.cli.main import cli
from brook.cli.perf import consumer_summary, percentile, producer_summary
from brook.cli.record_format import compile_template as _compile
from brook.cli.record_format import format_record, record_json


class FakeMessage(SimpleNamespace):
    """The slice of confluent_kafka.Message the renderers use."""

    def key(self):
        return self.k

    def value(self):
        return self.v

    def topic(self):
        return self.t

    def partition(self):
        return self.p

    def offset(self):
        return self.o

    def timestamp(self):
        return (1, self.ts)

    def headers(self):
        return self.h


def _msg(**overrides):
    fields = {"k": b"key1", "v": b"hello", "t": "events", "p": 2, "o": 41, "ts": 1_700_000_000_123, "h": None}
    fields.update(overrides)
    return FakeMessage(**fields)


def test_render_table_aligns_columns_and_shows_missing_values_as_dash():
    text = render_table(["A", "LONGER"], [(1, None), ("wide-cell", [1, 2])])
    assert text.splitlines() == ["A          LONGER", "1          -", "wide-cell  1,2"]


def test_yaml_emitter_quotes_what_yaml_would_misread():
    doc = {
        "name": "foo",
        "flag": True,
        "empty": [],
        "odd": "yes",
        "num": "12",
        "n": None,
        "items": [{"a": 1}],
    }
    assert to_yaml(doc) == (
        'name: foo\nflag: true\nempty: []\nodd: "yes"\nnum: "12"\n"n": null\nitems:\n  - a: 1\n'
    )


def test_template_renders_kcat_fields_and_escapes():
    tokens = _compile(r"%t/%p@%o %T k=%k v=%s (%K/%S) [%h] 100%%\n")
    msg = _msg(h=[("a", b"1"), ("b", None)])
    assert format_record(tokens, msg) == "events/2@41 1700000000123 k=key1 v=hello (4/5) [a=1,b=] 100%\n"


def test_template_without_newline_gets_one_and_null_key_is_empty():
    assert format_record(_compile("%k|%s"), _msg(k=None)) == "|hello\n"


def test_json_record_uses_base64_only_for_bytes_that_are_not_utf8():
    doc = record_json(_msg(v=b"\xff\x00binary", h=[("h", b"\xfe")]))
    assert doc["key"] == "key1"
    assert doc["key_encoding"] == "utf8"
    assert doc["value_encoding"] == "base64"
    assert doc["value"] == "/wBiaW5hcnk="
    assert doc["headers"] == [{"key": "h", "value": "/g==", "value_encoding": "base64"}]
    assert {"topic", "partition", "offset", "timestamp", "key", "value", "headers"} <= set(doc)
    json.dumps(doc)


def test_parse_timestamp_accepts_millis_and_iso_times():
    assert parse_timestamp("1700000000000") == 1_700_000_000_000
    assert parse_timestamp("2023-11-14T22:13:20") == 1_700_000_000_000
    assert parse_timestamp("2023-11-14T23:13:20+01:00") == 1_700_000_000_000


def test_producer_summary_matches_kafka_perf_test_format():
    latencies = [float(i) for i in range(1, 1001)]
    line = producer_summary(1000, 100_000, 2.0, latencies)
    assert line == (
        "1000 records sent, 500.000000 records/sec (0.05 MB/sec), 500.50 ms avg latency, "
        "1000.00 ms max latency, 501 ms 50th, 951 ms 95th, 991 ms 99th, 1000 ms 99.9th."
    )
    assert percentile([], 0.5) == 0.0


def test_consumer_summary_has_kafka_columns():
    header, line = consumer_summary(0, 2000, 2 * 1024 * 1024, 1000, 1000.0).splitlines()
    assert header.startswith("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg")
    fields = [f.strip() for f in line.split(",")]
    assert fields[2:6] == ["2.0000", "1.0000", "1000", "500.0000"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("args", [["topic", "list"], ["produce", "t"]])
def test_unreachable_broker_is_one_line_and_exit_code_1(args):
    bootstrap = f"127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    result = CliRunner().invoke(cli, [*args, "-b", bootstrap], input="x\n")
    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    assert result.stderr == f"brook: cannot reach a broker at {bootstrap}\n"
    assert "Traceback" not in result.output


def test_bootstrap_comes_from_environment():
    bootstrap = f"127.0.0.1:{_closed_port()}"
    result = CliRunner().invoke(cli, ["cluster", "info"], env={"BROOK_BOOTSTRAP": bootstrap})
    assert result.exit_code == 1
    assert bootstrap in result.stderr


def test_usage_errors_are_readable():
    result = CliRunner().invoke(cli, ["topic", "create"])
    assert result.exit_code == 2
    assert "name at least one topic" in result.stderr
    result = CliRunner().invoke(cli, ["topic", "create", "t", "--config", "novalue"])
    assert result.exit_code == 2
    assert "expected key=value" in result.stderr


def test_help_does_not_import_the_client_or_rich():
    code = "import sys; from brook.cli.main import cli; print(sorted(m for m in sys.modules if m.split('.')[0] in ('confluent_kafka', 'rich')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    help_text = subprocess.run(
        [sys.executable, "-m", "brook", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("topic", "produce", "consume", "group", "perf", "dump-log", "cluster", "serve"):
        assert re.search(rf"^\s+{command}\s", help_text, re.MULTILINE), command


def test_a_broker_without_the_console_does_not_import_it():
    """`brook serve` with brook.console.port unset: the console's web stack (aiohttp, jinja2) is not imported
    (0.5 s of every broker start here)."""
    code = (
        "import sys; import brook.cli.serve, brook.cli.serve_console, brook.broker.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'jinja2') or m.startswith('brook.console')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
