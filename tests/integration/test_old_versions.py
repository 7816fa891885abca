"""Kafka 3.9's lowest versions against a real broker, as raw bytes (the layouts of protocol/legacy.py):
what old Sarama and old kafka-python send. Message sets of magic 0/1 in, v2 batches stored, magic 0/1 out."""

from __future__ import annotations

import itertools
import struct
import time
from typing import Any

import pytest

from brook.common.errors import ErrorCode
from brook.records.message_sets import encode_message, iter_messages
from brook.records.records import compress
from brook.testing import BrookProcess, make_batch
from tests.integration.raw_client import RawClient

_names = (f"old-{i}" for i in itertools.count())


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(data_dir=tmp_path_factory.mktemp("old-versions")) as process:
        yield process


def s(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    return struct.pack(">h", len(text)) + text.encode()


class Reader:
    def __init__(self, data: bytes, pos: int = 4) -> None:  # after the correlation id
        self.data, self.pos = data, pos

    def take(self, fmt: str) -> Any:
        values = struct.unpack_from(">" + fmt, self.data, self.pos)
        self.pos += struct.calcsize(">" + fmt)
        return values if len(values) > 1 else values[0]

    def string(self) -> str | None:
        n = self.take("h")
        if n < 0:
            return None
        text = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return text

    def blob(self) -> bytes:
        n = self.take("i")
        out = self.data[self.pos : self.pos + max(n, 0)]
        self.pos += max(n, 0)
        return out


def _call(raw: RawClient, api_key: int, version: int, body: bytes) -> Reader:
    correlation_id, frame = raw.frame(api_key, version, body)
    raw.send_raw(frame)
    response = raw.read_frame()
    assert struct.unpack_from(">i", response)[0] == correlation_id
    return Reader(response)


def _create_v0(raw: RawClient, name: str, partitions: int = 1, configs: dict[str, str] | None = None) -> int:
    topic = s(name) + struct.pack(">ihi", partitions, 1, 0) + struct.pack(">i", len(configs or {}))
    for key, value in (configs or {}).items():
        topic += s(key) + s(value)
    r = _call(raw, 19, 0, struct.pack(">i", 1) + topic + struct.pack(">i", 5000))
    assert r.take("i") == 1
    assert r.string() == name
    return int(r.take("h"))


def _produce(raw: RawClient, version: int, name: str, message_set: bytes) -> tuple[int, int]:
    body = struct.pack(">hi", -1, 5000) + struct.pack(">i", 1) + s(name) + struct.pack(">ii", 1, 0)
    body += struct.pack(">i", len(message_set)) + message_set
    r = _call(raw, 0, version, body)
    assert r.take("i") == 1
    assert r.string() == name
    assert r.take("i") == 1
    partition, error_code, base_offset = r.take("ihq")
    assert partition == 0
    return error_code, base_offset


def _fetch(raw: RawClient, version: int, name: str, offset: int) -> tuple[int, int, bytes]:
    body = struct.pack(">iii", -1, 100, 1) + (struct.pack(">i", 1 << 20) if version >= 3 else b"")
    body += struct.pack(">i", 1) + s(name) + struct.pack(">i", 1) + struct.pack(">iqi", 0, offset, 1 << 20)
    r = _call(raw, 1, version, body)
    if version >= 1:
        r.take("i")  # throttle time
    assert r.take("i") == 1
    assert r.string() == name
    assert r.take("i") == 1
    partition, error_code, high_watermark = r.take("ihq")
    assert partition == 0
    return error_code, high_watermark, r.blob()


@pytest.mark.parametrize(("produce_version", "magic"), [(0, 0), (1, 0), (2, 1)])
@pytest.mark.parametrize("codec", [0, 1, 2, 3])
def test_produce_old_message_sets_then_fetch_every_old_version(raw, produce_version, magic, codec):
    name = next(_names)
    assert _create_v0(raw, name) == ErrorCode.none
    messages = [(b"k%d" % i if i != 1 else None, b"v%d" % i) for i in range(4)]
    plain = b"".join(
        encode_message(i, magic, k, v, timestamp=1_700_000_000_000 + i) for i, (k, v) in enumerate(messages)
    )
    if codec:
        message_set = encode_message(3, magic, None, compress(codec, plain), codec=codec, timestamp=0)
    else:
        message_set = plain
    assert _produce(raw, produce_version, name, message_set) == (ErrorCode.none, 0)
    assert _produce(raw, produce_version, name, message_set) == (ErrorCode.none, 4)
    for fetch_version in range(4):
        got = _fetch_all(raw, fetch_version, name, 2, high_watermark=8)
        expected_magic = 0 if fetch_version <= 1 else 1
        assert {m.magic for m in got} == {expected_magic}
        # compressed batches come whole (from offset 0); uncompressed ones from the fetch offset on
        first = 0 if codec else 2
        assert [(m.offset, m.key, m.value) for m in got] == [(o, *messages[o % 4]) for o in range(first, 8)]
        if expected_magic == 1:
            stored_ts = [1_700_000_000_000 + o % 4 if magic == 1 else -1 for o in range(first, 8)]
            assert [m.timestamp for m in got] == stored_ts


def _fetch_all(raw: RawClient, version: int, name: str, offset: int, high_watermark: int) -> list[Any]:
    """Fetch as an old consumer does: from the offset after the last message, until the high watermark
    (a down-converted answer keeps to the size read, so it may hold only part of what is there)."""
    got: list[Any] = []
    position = offset
    while position < high_watermark:
        error_code, hw, records = _fetch(raw, version, name, position)
        assert (error_code, hw) == (ErrorCode.none, high_watermark)
        messages = list(iter_messages(records, 1 << 20))
        assert messages, f"no progress at {position}"
        got.extend(messages)
        position = messages[-1].offset + 1
    return got


def test_corrupt_message_set_is_refused_and_nothing_is_appended(raw):
    name = next(_names)
    _create_v0(raw, name)
    message = bytearray(encode_message(0, 1, b"k", b"v", timestamp=1))
    message[-1] ^= 0x01
    assert _produce(raw, 2, name, bytes(message))[0] == ErrorCode.corrupt_message
    assert _fetch(raw, 2, name, 0)[:2] == (ErrorCode.none, 0)


def test_new_batches_down_convert_for_old_fetchers_and_zstd_cannot(raw):
    name = next(_names)
    _create_v0(raw, name)
    batch = make_batch([(b"a", b"1"), (b"b", b"2")])
    body = {
        "acks": -1,
        "timeout": 5000,
        "topic_data": [{"name": name, "partition_data": [{"index": 0, "records": batch}]}],
    }
    assert raw.request(0, 7, body).responses[0].partition_responses[0].error_code == ErrorCode.none
    error_code, _, records = _fetch(raw, 0, name, 0)
    assert error_code == ErrorCode.none
    assert [(m.offset, m.key, m.value, m.magic) for m in iter_messages(records, 1 << 20)] == [
        (0, b"a", b"1", 0),
        (1, b"b", b"2", 0),
    ]
    zstd_topic = next(_names)
    _create_v0(raw, zstd_topic, configs={"compression.type": "zstd"})
    assert _produce(raw, 2, zstd_topic, encode_message(0, 1, b"k", b"v", timestamp=5)) == (ErrorCode.none, 0)
    error_code, high_watermark, records = _fetch(raw, 3, zstd_topic, 0)
    assert (error_code, high_watermark, records) == (ErrorCode.unsupported_compression_type, 1, b"")


def test_list_offsets_v0(raw):
    name = next(_names)
    _create_v0(raw, name)
    _produce(raw, 1, name, b"".join(encode_message(i, 0, None, b"x") for i in range(5)))

    def offsets(timestamp: int, max_num: int) -> tuple[int, list[int]]:
        body = struct.pack(">i", -1) + struct.pack(">i", 1) + s(name) + struct.pack(">i", 1)
        body += struct.pack(">iqi", 0, timestamp, max_num)
        r = _call(raw, 2, 0, body)
        assert r.take("i") == 1
        assert r.string() == name
        assert r.take("i") == 1
        partition, error_code, count = r.take("ihi")
        assert partition == 0
        return error_code, [r.take("q") for _ in range(count)]

    assert offsets(-1, 1) == (ErrorCode.none, [5])
    assert offsets(-2, 1) == (ErrorCode.none, [0])
    assert offsets(-1, 10) == (ErrorCode.none, [5, 0])  # the log end, then the one segment's base
    assert offsets(-3, 1) == (ErrorCode.unsupported_version, [])  # v0 knows no max-timestamp lookup
    # by time, segment by segment: nothing before the first segment's records, the log end after now
    assert offsets(1, 1) == (ErrorCode.none, [])
    assert offsets(10**13, 1) == (ErrorCode.none, [5])


def _find_coordinator_v0(raw: RawClient, group: str) -> None:
    """As a client does first: FindCoordinator v0 until the coordinator (this broker) has loaded the group."""
    deadline = time.monotonic() + 60
    while True:
        r = _call(raw, 10, 0, s(group))
        error_code, node_id = r.take("hi")
        if error_code == ErrorCode.none:
            assert node_id == 0
            return
        assert error_code == ErrorCode.coordinator_not_available
        assert time.monotonic() < deadline, "no group coordinator within 60 s"
        time.sleep(0.2)


def test_offset_commit_v0_v1_and_offset_fetch_v0(raw):
    name = next(_names)
    _create_v0(raw, name, partitions=2)
    group = f"group-{name}"

    def commit(version: int, offset: int) -> list[tuple[int, int]]:
        body = s(group) + (struct.pack(">i", -1) + s("") if version == 1 else b"")
        body += struct.pack(">i", 1) + s(name) + struct.pack(">i", 2)
        for p in range(2):
            body += (
                struct.pack(">iq", p, offset + p) + (struct.pack(">q", -1) if version == 1 else b"") + s("m")
            )
        r = _call(raw, 8, version, body)
        assert r.take("i") == 1
        assert r.string() == name
        return [r.take("ih") for _ in range(r.take("i"))]

    def fetch() -> list[tuple[int, int, str | None, int]]:
        body = s(group) + struct.pack(">i", 1) + s(name) + struct.pack(">iii", 2, 0, 1)
        r = _call(raw, 9, 0, body)
        assert r.take("i") == 1
        assert r.string() == name
        out = []
        for _ in range(r.take("i")):
            partition, offset = r.take("iq")
            metadata = r.string()
            out.append((partition, offset, metadata, r.take("h")))
        return out

    _find_coordinator_v0(raw, group)
    assert fetch() == [(0, -1, "", 0), (1, -1, "", 0)]
    assert commit(0, 10) == [(0, 0), (1, 0)]
    assert fetch() == [(0, 10, "m", 0), (1, 11, "m", 0)]
    assert commit(1, 20) == [(0, 0), (1, 0)]  # generation -1, no member: a simple commit
    assert fetch() == [(0, 20, "m", 0), (1, 21, "m", 0)]
    # and v1+ clients of the group see the same offsets
    fetched = raw.request(9, 1, {"group_id": group, "topics": [{"name": name, "partition_indexes": [0]}]})
    assert fetched.topics[0].partitions[0].committed_offset == 20


def test_describe_configs_v0(raw):
    name = next(_names)
    _create_v0(raw, name, configs={"retention.ms": "1000"})
    body = (
        struct.pack(">i", 1)
        + struct.pack(">b", 2)
        + s(name)
        + struct.pack(">i", 2)
        + s("retention.ms")
        + s("cleanup.policy")
    )
    r = _call(raw, 32, 0, body)
    r.take("i")  # throttle
    assert r.take("i") == 1
    assert r.take("h") == ErrorCode.none
    r.string()
    assert r.take("b") == 2
    assert r.string() == name
    configs = {}
    for _ in range(r.take("i")):
        key, value = r.string(), r.string()
        read_only, is_default, is_sensitive = r.take("???")
        configs[key] = (value, read_only, is_default, is_sensitive)
    assert configs == {
        "retention.ms": ("1000", False, False, False),
        "cleanup.policy": ("delete", False, True, False),
    }


def test_create_v1_validate_only_delete_v0_and_describe_log_dirs_v0(raw):
    name = next(_names)
    topic = s(name) + struct.pack(">ihi", 1, 1, 0) + struct.pack(">i", 0)
    r = _call(raw, 19, 1, struct.pack(">i", 1) + topic + struct.pack(">i", 5000) + b"\x01")
    assert r.take("i") == 1
    assert r.string() == name
    assert r.take("h") == ErrorCode.none
    assert r.string() is None
    assert _create_v0(raw, name) == ErrorCode.none  # validate_only created nothing
    assert _create_v0(raw, name) == ErrorCode.topic_already_exists

    r = _call(raw, 35, 0, struct.pack(">i", -1))
    r.take("i")  # throttle
    dirs = r.take("i")
    assert dirs == 1
    assert r.take("h") == ErrorCode.none
    r.string()
    names = []
    for _ in range(r.take("i")):
        names.append(r.string())
        for _ in range(r.take("i")):
            r.take("iqq?")
    assert name in names

    r = _call(raw, 20, 0, struct.pack(">i", 1) + s(name) + struct.pack(">i", 5000))
    assert r.take("i") == 1
    assert (r.string(), r.take("h")) == (name, ErrorCode.none)


def test_log_append_time_topic_stamps_old_messages(raw):
    name = next(_names)
    assert _create_v0(raw, name, configs={"message.timestamp.type": "LogAppendTime"}) == ErrorCode.none
    message_set = b"".join(encode_message(i, 1, b"k%d" % i, b"v", timestamp=5) for i in range(3))
    body = struct.pack(">hi", -1, 5000) + struct.pack(">i", 1) + s(name) + struct.pack(">ii", 1, 0)
    body += struct.pack(">i", len(message_set)) + message_set
    before_ms = int(time.time() * 1000)
    r = _call(raw, 0, 2, body)
    assert r.take("i") == 1
    assert r.string() == name
    assert r.take("i") == 1
    partition, error_code, base_offset, log_append_time = r.take("ihqq")
    assert (partition, error_code, base_offset) == (0, ErrorCode.none, 0)
    assert log_append_time >= before_ms - 1000
    got = _fetch_all(raw, 2, name, 0, high_watermark=3)
    assert [(m.offset, m.timestamp, m.log_append_time) for m in got] == [
        (i, log_append_time, True) for i in range(3)
    ]
    assert {m.timestamp for m in _fetch_all(raw, 0, name, 0, high_watermark=3)} == {-1}  # magic 0


def test_describe_configs_v0_of_the_broker_and_of_a_missing_topic(raw):
    body = struct.pack(">i", 2)
    body += struct.pack(">b", 4) + s("0") + struct.pack(">i", 1) + s("num.partitions")
    body += struct.pack(">b", 2) + s("no-such-topic") + struct.pack(">i", -1)
    r = _call(raw, 32, 0, body)
    r.take("i")  # throttle
    assert r.take("i") == 2
    assert r.take("h") == ErrorCode.none
    r.string()
    assert (r.take("b"), r.string()) == (4, "0")
    assert r.take("i") == 1
    assert (r.string(), r.string(), r.take("???")) == ("num.partitions", "1", (True, True, False))
    assert r.take("h") == ErrorCode.unknown_topic_or_partition
    r.string()
    assert (r.take("b"), r.string(), r.take("i")) == (2, "no-such-topic", 0)
