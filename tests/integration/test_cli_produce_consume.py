"""`brook produce` and `brook consume` against a real broker, in-process and through real pipes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.integration.cli_helpers import Brook, module_broker_fixture, unique

cli_broker = module_broker_fixture()

_M32 = 0xFFFFFFFF


def java_murmur2(data: bytes) -> int:
    """Kafka's Java client's murmur2 (seed 0x9747b28c), as a signed 32-bit int."""
    m = 0x5BD1E995
    h = (0x9747B28C ^ len(data)) & _M32
    whole = len(data) // 4 * 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & _M32
        k ^= k >> 24
        k = (k * m) & _M32
        h = ((h * m) & _M32) ^ k
    tail = data[whole:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * m) & _M32
    h ^= h >> 13
    h = (h * m) & _M32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes, partitions: int) -> int:
    return (java_murmur2(key) & 0x7FFFFFFF) % partitions


def test_murmur2_matches_kafkas_published_value():
    assert java_murmur2(b"21") == -973932308


@pytest.fixture
def brook(cli_broker):
    return Brook(cli_broker)


def _consume_json(brook, *args):
    out = brook.run("consume", *args, "--format", "json").stdout
    return [json.loads(line) for line in out.splitlines()]


def test_lines_become_records_with_keys_headers_and_json_output(brook):
    topic = unique("lines")
    brook.run("topic", "create", topic)
    brook.run(
        "produce", topic, "--key-separator", ":", "--header", "src=cli", "-H", "n=1", input="k1:v1\nk2:v:2\n"
    )
    records = _consume_json(brook, topic, "--from-beginning", "--count", 2)
    assert [(r["key"], r["value"], r["offset"]) for r in records] == [("k1", "v1", 0), ("k2", "v:2", 1)]
    assert records[0]["headers"] == [
        {"key": "src", "value": "cli", "value_encoding": "utf8"},
        {"key": "n", "value": "1", "value_encoding": "utf8"},
    ]
    assert {r["key_encoding"] for r in records} == {"utf8"}
    assert all(r["topic"] == topic and r["partition"] == 0 and r["timestamp"] > 0 for r in records)

    text = brook.run("consume", topic, "--from-beginning", "-n", 2, "-f", r"%k=%s@%o %h\n").stdout
    assert text == "k1=v1@0 src=cli,n=1\nk2=v:2@1 src=cli,n=1\n"


def test_keyed_records_go_where_the_java_client_would_send_them(brook):
    topic = unique("keyed")
    brook.run("topic", "create", topic, "--partitions", 7)
    keys = [f"user-{i}" for i in range(40)]
    brook.run("produce", topic, "-k", "\t", input="".join(f"{k}\tv\n" for k in keys))
    records = _consume_json(brook, topic, "--from-beginning", "--count", len(keys))
    assert len({r["partition"] for r in records}) > 1
    for r in records:
        assert r["partition"] == java_partition(r["key"].encode(), 7), r


def test_binary_values_come_back_base64(brook, tmp_path):
    topic = unique("binary")
    payload = tmp_path / "in.bin"
    payload.write_bytes(b"\xff\xfe\x00\n")
    brook.run("produce", topic, "--file", payload)
    (record,) = _consume_json(brook, topic, "--from-beginning", "-n", 1)
    assert record["value_encoding"] == "base64"
    assert record["value"] == "//4A"
    assert record["key"] is None


def test_partition_offset_and_timestamp_choose_the_start(brook):
    topic = unique("start")
    brook.run("topic", "create", topic, "-p", 2)
    brook.run("produce", topic, "--partition", 1, input="".join(f"m{i}\n" for i in range(10)))
    records = _consume_json(brook, topic, "--partition", 1, "--offset", 7, "--exit-at-end")
    assert [r["value"] for r in records] == ["m7", "m8", "m9"]
    records = _consume_json(brook, topic, "--partition", 1, "--offset", -2, "--exit-at-end")
    assert [r["offset"] for r in records] == [8, 9]
    records = _consume_json(brook, topic, "--from-beginning", "--exit-at-end")
    assert len(records) == 10
    assert {r["partition"] for r in records} == {1}

    cut = records[4]["timestamp"]
    later = _consume_json(brook, topic, "--timestamp", cut, "--exit-at-end")
    assert later[0]["timestamp"] >= cut
    assert later[-1]["offset"] == 9
    assert all(r["timestamp"] >= cut for r in later)


def test_compression_and_acks_options(brook):
    topic = unique("gzip")
    brook.run("produce", topic, "--compression", "gzip", "--acks", "1", input="a\nb\n")
    assert [r["value"] for r in _consume_json(brook, topic, "--from-beginning", "-n", 2)] == ["a", "b"]


def test_unknown_topic_and_bad_partition_are_errors(brook):
    result = brook.run("consume", "no-such-topic", "-n", 1, expect=1)
    assert "Unknown topic" in result.stderr
    topic = unique("one")
    brook.run("topic", "create", topic)
    result = brook.run("consume", topic, "--partition", 5, "-n", 1, expect=1)
    assert "no partition 5" in result.stderr
    result = brook.run("produce", topic, "-k", ":", input="novalue\n", expect=1)
    assert "no key separator found on line number 1" in result.stderr


def _brook_cmd(bootstrap: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "brook", *args, "-b", bootstrap]


def test_produce_pipe_into_consume_pipe(brook):
    topic = unique("pipes")
    bootstrap = brook.broker.bootstrap
    brook.run("topic", "create", topic, "-p", 3)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    lines = "".join(f"key{i}|value {i}\n" for i in range(100))
    subprocess.run(
        _brook_cmd(bootstrap, "produce", topic, "--key-separator", "|"),
        input=lines,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    consumer = subprocess.run(
        _brook_cmd(bootstrap, "consume", topic, "--from-beginning", "--count", "100", "-f", "%k|%s"),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert consumer.returncode == 0, consumer.stderr
    assert sorted(consumer.stdout.splitlines()) == sorted(lines.splitlines())
    assert "Processed a total of 100 messages" in consumer.stderr


def test_consume_exits_cleanly_on_ctrl_c(brook):
    topic = unique("sigint")
    brook.run("produce", topic, input="only\n")
    # Ctrl-C reaches a foreground command whose SIGINT is at its default. A suite started in the background by
    # a shell without job control inherits SIGINT ignored, and so would the consumer: a handler in this process
    # while it starts is reset to the default in the child.
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            _brook_cmd(brook.broker.bootstrap, "consume", topic, "--from-beginning"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        signal.signal(signal.SIGINT, inherited)
    with proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "only\n"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        try:
            _out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
    assert "Traceback" not in err
    assert "Processed a total of 1 messages" in err


def test_kafka_console_properties(brook):
    topic = unique("props")
    brook.run(
        "produce",
        "--topic",
        topic,
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=:",
        "--request-required-acks",
        "1",
        input="k:v\n",
    )
    out = brook.run(
        "consume",
        "--topic",
        topic,
        "--from-beginning",
        "--max-messages",
        1,
        "--property",
        "print.key=true",
        "--property",
        "print.offset=true",
        "--property",
        "key.separator=|",
    ).stdout
    assert out == "Offset:0|k|v\n"


def test_client_config_from_x_and_command_config(brook, tmp_path):
    result = brook.run("topic", "list", "-X", "no.such.property=1", expect=1)
    assert result.stderr.startswith("brook: No such configuration property")
    props = tmp_path / "client.properties"
    props.write_text("# comment\nclient.id=from-file\n")
    brook.run("topic", "list", "--command-config", props)
    result = brook.run("topic", "list", "--command-config", props, "-X", "socket.timeout.ms=bogus", expect=1)
    assert "socket.timeout.ms" in result.stderr


def test_consume_piped_into_produce_copies_a_topic(brook):
    source, copy = unique("source"), unique("copy")
    bootstrap = brook.broker.bootstrap
    brook.run("produce", source, "-k", "|", input="".join(f"k{i}|v{i}\n" for i in range(50)))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    consumer = subprocess.Popen(
        _brook_cmd(bootstrap, "consume", source, "--from-beginning", "-n", "50", "-f", "%k|%s"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    producer = subprocess.Popen(
        _brook_cmd(bootstrap, "produce", copy, "--key-separator", "|"),
        stdin=consumer.stdout,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert consumer.stdout is not None
    consumer.stdout.close()  # the producer holds the read end now
    assert consumer.wait(timeout=60) == 0
    _, err = producer.communicate(timeout=60)
    assert producer.returncode == 0, err
    copied = _consume_json(brook, copy, "--from-beginning", "-n", 50)
    assert sorted((r["key"], r["value"]) for r in copied) == sorted((f"k{i}", f"v{i}") for i in range(50))


def test_consume_into_a_closed_pipe_stops_quietly(brook):
    topic = unique("head")
    brook.run("produce", topic, input="".join(f"{i}\n" for i in range(200)))
    shell = (
        f"{sys.executable} -m brook consume {topic} --from-beginning -b {brook.broker.bootstrap} | head -n 3"
    )
    result = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, timeout=30)
    assert result.stdout == "0\n1\n2\n"
    assert "Traceback" not in result.stderr
