"""Every advertised API/version: lengths and counts are checked against the frame before kio allocates.

A count kio would trust (2^32 topics in a 21-byte Metadata request) made it ask for 34 GB and abort
the process; these tests feed such lies for every array, string and bytes field of every request
brook decodes with kio, in their compact and int32/int16 forms, plus truncated frames. A regression
here aborts the test process, which fails the run as surely as an assertion.
"""

from __future__ import annotations

import dataclasses
import random
import struct

import pytest
from kio.serial._introspect import is_optional

from brook.broker.handlers.base import REGISTRY
from brook.protocol import codec
from brook.protocol.bounds import FrameBoundsError, check_bounds
from brook.protocol.connection import RemoteProtocolError, ServerConnection
from brook.protocol.varint import encode_uvarint
from tests.fixtures.request_gen import Prefix, advertised, random_body

API_VERSIONS = advertised()
IDS = [f"api{k}v{v}" for k, v in API_VERSIONS]
SEEDS = range(6)

HUGE_UVARINT = b"\xff\xff\xff\xff\x0f"  # 2^32 - 1: a compact count of 2^32 - 2


def _bodies(api_key: int, version: int) -> list[tuple[bytes, list[Prefix]]]:
    return [
        random_body(api_key, version, random.Random(seed * 1000 + api_key * 50 + version)) for seed in SEEDS
    ]


def _with_length(body: bytes, prefix: Prefix, value: int) -> bytes:
    if prefix.kind == "uvarint":
        encoded = HUGE_UVARINT if value < 0 else encode_uvarint(value)
    elif prefix.kind == "int16":
        encoded = struct.pack(">h", value)
    else:
        encoded = struct.pack(">i", value)
    return body[: prefix.pos] + encoded + body[prefix.pos + prefix.size :]


def _stored_length(body: bytes, prefix: Prefix) -> int:
    if prefix.kind == "uvarint":
        value, shift = 0, 0
        for byte in body[prefix.pos : prefix.pos + prefix.size]:
            value |= (byte & 0x7F) << shift
            shift += 7
        return value
    fmt = ">h" if prefix.kind == "int16" else ">i"
    return int(struct.unpack_from(fmt, body, prefix.pos)[0])


def test_every_advertised_version_is_covered() -> None:
    keys = {k for k, _ in API_VERSIONS}
    assert {1, 3, 8, 9, 10, 11, 12, 14, 18, 19, 20, 32, 60} <= keys
    assert len(API_VERSIONS) > 100


@pytest.mark.parametrize(("api_key", "version"), API_VERSIONS, ids=IDS)
def test_walk_ends_where_kio_ends(api_key: int, version: int) -> None:
    """The bounds walk reads the same layout as kio: it ends at the very byte kio's reader ends at."""
    cls = codec.request_class(api_key, version)
    for body, _ in _bodies(api_key, version):
        codec.decode_request_body(api_key, version, body, 0)
        _entity, size = codec._reader(cls)(body, 0)
        assert check_bounds(codec._walker(cls), body, 0) == size == len(body)


@pytest.mark.parametrize(("api_key", "version"), API_VERSIONS, ids=IDS)
def test_huge_counts_and_lengths_are_rejected_before_decoding(api_key: int, version: int) -> None:
    checked = 0
    for body, prefixes in _bodies(api_key, version):
        for prefix in prefixes:
            huge = {"uvarint": -1, "int16": 0x7FFF, "int32": 0x7FFFFFFF}[prefix.kind]
            for value in (huge, len(body) + 1):
                lie = _with_length(body, prefix, value)
                with pytest.raises(FrameBoundsError):
                    codec.decode_request_body(api_key, version, lie, 0)
                checked += 1
    assert checked > 0 or all(not p for _, p in _bodies(api_key, version))


@pytest.mark.parametrize(("api_key", "version"), API_VERSIONS, ids=IDS)
def test_lying_lengths_fail_cleanly(api_key: int, version: int) -> None:
    """Lengths off by a few bytes either way: decoded differently or rejected, never a crash."""
    for body, prefixes in _bodies(api_key, version):
        for prefix in prefixes:
            stored = _stored_length(body, prefix)
            for delta in (-2, -1, 1, 3):
                lie = _with_length(
                    body, prefix, max(stored + delta, 0) if prefix.kind == "uvarint" else stored + delta
                )
                try:
                    codec.decode_request_body(api_key, version, lie, 0)
                except Exception:  # noqa: BLE001 - any exception closes the connection; a crash would not return
                    pass


def _nulls_in_non_nullable_fields(entity: object, path: str = "") -> list[str]:
    """The fields of a decoded request that hold None though their schema does not allow null."""
    found = []
    for f in dataclasses.fields(entity):  # type: ignore[arg-type]
        value = getattr(entity, f.name)
        if value is None:
            if not is_optional(f):
                found.append(path + f.name)
        elif isinstance(value, tuple):
            found += [
                n
                for item in value
                if dataclasses.is_dataclass(item)
                for n in _nulls_in_non_nullable_fields(item, f"{path}{f.name}[].")
            ]
        elif dataclasses.is_dataclass(value):
            found += _nulls_in_non_nullable_fields(value, f"{path}{f.name}.")
    return found


@pytest.mark.parametrize(("api_key", "version"), API_VERSIONS, ids=IDS)
def test_nulls_anywhere_fail_cleanly(api_key: int, version: int) -> None:
    """Every length or count replaced by null (-1, or compact 0): decoded as null where the schema allows
    null, rejected (FrameBoundsError, the connection closes) where it does not, as Kafka's readers do
    ("non-nullable field ... was serialized as null"). A handler never sees None it was not promised."""
    for body, prefixes in _bodies(api_key, version):
        for prefix in prefixes:
            null = (
                b"\x00"
                if prefix.kind == "uvarint"
                else struct.pack(">h" if prefix.kind == "int16" else ">i", -1)
            )
            lie = body[: prefix.pos] + null + body[prefix.pos + prefix.size :]
            try:
                entity = codec.decode_request_body(api_key, version, lie, 0)
            except FrameBoundsError:
                continue
            except Exception:  # noqa: BLE001 - kio's own refusal (a bad enum, ...): the connection closes
                continue
            assert _nulls_in_non_nullable_fields(entity) == [], (prefix, lie.hex())


def test_a_null_topic_list_in_delete_topics_v5_is_refused() -> None:
    """The fuzzer's first handler crash: DeleteTopics v5 with topic_names null reached the handler."""
    with pytest.raises(FrameBoundsError, match="non-nullable array field at byte 0 was serialized as null"):
        codec.decode_request_body(20, 5, b"\x00" + b"\x00\x00\x00\x00" + b"\x00", 0)
    assert codec.decode_request_body(3, 12, b"\x00\x01\x00\x00\x00", 0).topics is None  # nullable: fine


def test_a_null_spelled_as_a_two_byte_varint_is_refused_too() -> None:
    """The handler fuzzer's second find: AddPartitionsToTxn v3 whose topics count is 0x80 0x00 (zero in two
    varint bytes, so null) reached the handler as None."""
    body = b"\x09fuzz-txn" + bytes(10) + b"\x80\x00" + b"\x00"
    with pytest.raises(FrameBoundsError, match="non-nullable array field at byte 19 was serialized as null"):
        codec.decode_request_body(24, 3, body, 0)


@pytest.mark.parametrize(("api_key", "version"), API_VERSIONS, ids=IDS)
def test_every_truncation_is_rejected(api_key: int, version: int) -> None:
    for body, _ in _bodies(api_key, version)[:2]:
        for cut in range(len(body)):
            with pytest.raises(FrameBoundsError):
                codec.decode_request_body(api_key, version, body[:cut], 0)


# --- through the connection: the 21-byte request from the issue, and the hand-written paths ----------


def _connection() -> ServerConnection:
    return ServerConnection(
        max_request_bytes=100 * 1024 * 1024, supported={h.api_key: h.versions for h in REGISTRY.values()}
    )


def _frame(api_key: int, version: int, body: bytes, flexible: bool) -> bytes:
    header = struct.pack(">hhih", api_key, version, 7, 1) + b"c" + (b"\x00" if flexible else b"")
    return struct.pack(">i", len(header) + len(body)) + header + body


def test_metadata_v9_with_a_count_of_four_billion_closes_the_connection() -> None:
    frame = _frame(3, 9, HUGE_UVARINT + b"\x01\x00\x00\x00", flexible=True)
    assert len(frame) == 4 + 21
    conn = _connection()
    conn.receive_data(frame)
    with pytest.raises(RemoteProtocolError, match="Tried to allocate a collection of size 4294967294"):
        conn.next_request()


@pytest.mark.parametrize("version", range(3, 10))
def test_produce_decoder_rejects_huge_counts(version: int) -> None:
    flexible = version >= 9
    bodies = (
        [
            b"\x00" + struct.pack(">hi", 1, 1000) + HUGE_UVARINT,
            b"\x00" + struct.pack(">hi", 1, 1000) + b"\x02\x02a" + HUGE_UVARINT,
        ]
        if flexible
        else [
            struct.pack(">hhii", -1, 1, 1000, 0x7FFFFFFF),
            struct.pack(">hhii", -1, 1, 1000, 1)
            + struct.pack(">h", 1)
            + b"a"
            + struct.pack(">i", 0x7FFFFFFF),
            struct.pack(">hhii", -1, 1, 1000, 1) + struct.pack(">h", 0x7FFF),
            struct.pack(">hhii", -1, 1, 1000, 1)
            + struct.pack(">h", 1)
            + b"a"
            + struct.pack(">iii", 1, 0, 0x7FFFFFFF),
        ]
    )
    for body in bodies:
        conn = _connection()
        conn.receive_data(_frame(0, version, body, flexible))
        with pytest.raises(RemoteProtocolError):
            conn.next_request()


def test_a_message_may_hold_only_so_many_elements_in_all() -> None:
    # Metadata v4: 300,000 topics with empty names fit in 600 KB, but would be 300,000 objects.
    body = struct.pack(">i", 300_000) + b"\x00\x00" * 300_000 + b"\x01"
    with pytest.raises(FrameBoundsError, match="more array elements in one message than the limit"):
        codec.decode_request_body(3, 4, body, 0)
    assert len(codec.decode_request_body(3, 4, body, 0, max_elements=300_000).topics) == 300_000
    # the limit counts nested arrays together: 1,000 topics of 300 partitions each
    topic = struct.pack(">h", 1) + b"t" + struct.pack(">i", 300) + struct.pack(">iq", 0, -1) * 300
    list_offsets = struct.pack(">ii", -1, 1000) + topic * 1000  # ListOffsets v1
    with pytest.raises(FrameBoundsError, match="than the limit"):
        codec.decode_request_body(2, 1, list_offsets, 0)


def test_produce_counts_its_topics_and_partitions_against_the_limit() -> None:
    partitions = struct.pack(">ii", 0, -1) * 1000
    topic = struct.pack(">h", 1) + b"t" + struct.pack(">i", 1000) + partitions
    body = struct.pack(">hhii", -1, 1, 1000, 300) + topic * 300  # 300 topics x 1,000 partitions
    conn = ServerConnection(
        max_request_bytes=100 * 1024 * 1024, supported={0: range(3, 10)}, max_elements=200_000
    )
    conn.receive_data(_frame(0, 7, body, flexible=False))
    with pytest.raises(RemoteProtocolError, match="than the limit"):
        conn.next_request()
