"""Writes the fuzzers' seed corpora: real client frames, generated requests, and request sequences.

tests/fuzz/corpus (both fuzzers):
- every frame captured from a real client (tests/fixtures/frames), in the raw shape;
- for every advertised API/version, requests generated from its schema (tests/fixtures/request_gen.py)
  in the selector shape, so the fuzzer starts from a valid body of each: kio's schemas for most, the
  hand-written layouts of protocol/legacy_layouts.py for the old versions kio lacks, and hand-built
  bodies for Produce v0-2 and OffsetForLeaderEpoch v0-1 (decoded by hand).
tests/fuzz/regressions holds the inputs that once crashed a fuzzer (the smoke test replays them).
tests/fuzz/handler_corpus (fuzz_handlers.py): sequences a handler only reaches after another request
(SASL handshake then authenticate rounds, a transaction from InitProducerId to EndTxn, ACLs, SCRAM
credentials, transactional produce and read_committed fetch), SEPARATOR between requests.
Run again after the advertised versions change:  python tests/fuzz/make_corpus.py
"""

from __future__ import annotations

import hashlib
import random
import struct
from pathlib import Path
from typing import Any

from brook.protocol import codec, legacy
from brook.testing.batches import make_batch
from tests.fixtures.request_gen import random_body, random_legacy_body
from tests.fuzz.fuzz_handlers import SEPARATOR
from tests.fuzz.fuzz_requests import API_VERSIONS, RAW
from tests.integration.raw_client import acl_creation, acl_filter

HERE = Path(__file__).parent
FRAMES = HERE.parent / "fixtures" / "frames"
CORPUS = HERE / "corpus"
HANDLER_CORPUS = HERE / "handler_corpus"
PER_VERSION = 2


def _hand_body(api_key: int, version: int, rng: random.Random) -> bytes:
    """Produce v0-2 (message sets) and OffsetForLeaderEpoch v0-1: one topic, one partition."""
    topic = b"t" + bytes([rng.choice(b"abc")])
    if api_key == 0:
        message_set = b""  # an empty message set: a valid, if useless, request
        return (
            struct.pack(">hii", 1, 1000, 1)
            + struct.pack(">h", len(topic))
            + topic
            + struct.pack(">iii", 1, 0, len(message_set))
        )
    return struct.pack(">ih", 1, len(topic)) + topic + struct.pack(">iii", 1, 0, rng.randint(0, 3))


def selector(api_key: int, version: int) -> bytes:
    return struct.pack(">H", API_VERSIONS.index((api_key, version)))


def seeds() -> list[bytes]:
    out = [struct.pack(">H", RAW) + path.read_bytes() for path in sorted(FRAMES.glob("*_request_v*.bin"))]
    for api_key, version in API_VERSIONS:
        if legacy.has_request(api_key, version):
            tagged, make = b"", random_legacy_body
        elif (api_key == 0 and version < 3) or (api_key == 23 and version < 2):
            tagged, make = b"", _hand_body
        else:
            tagged = b"\x00" if codec.is_flexible_request(api_key, version) else b""
            make = lambda k, v, rng: random_body(k, v, rng)[0]  # noqa: E731
        for seed in range(PER_VERSION):
            out.append(selector(api_key, version) + tagged + make(api_key, version, random.Random(seed)))
    return out


def request(api_key: int, version: int, fields: dict[str, Any]) -> bytes:
    """One request in the selector shape, its body encoded from `fields` (kio's names)."""
    tagged = b"\x00" if codec.is_flexible_request(api_key, version) else b""
    body = codec.encode_body(codec.build(codec.request_class(api_key, version), fields))
    return selector(api_key, version) + tagged + body


def sequence(*requests: bytes) -> bytes:
    return SEPARATOR.join(requests)


def handler_seeds() -> list[bytes]:
    txn = "fuzz-txn"
    topic = {"name": "fz", "num_partitions": 2, "replication_factor": 1}
    create = request(19, 7, {"topics": [topic], "timeout": 5000})
    batch = make_batch([(b"k", b"v")], producer_id=0, producer_epoch=0, base_sequence=0, transactional=True)
    control = make_batch([(b"\x00\x00\x00\x00", b"\x00\x00\x00\x00\x00\x00")], producer_id=0, control=True)
    produce = {
        "transactional_id": txn,
        "acks": -1,
        "timeout": 5000,
        "topic_data": [{"name": "fz", "partition_data": [{"index": 0, "records": batch}]}],
    }
    fetch_topic = {"topic": "fz"}
    fetch_partition = {"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1 << 20}
    acl = acl_creation(resource_name="fz", principal="User:bob")
    scram_upsert = {
        "deletions": [],
        "upsertions": [
            {"name": "bob", "mechanism": 1, "iterations": 4096, "salt": b"salt", "salted_password": b"x" * 32}
        ],
    }
    return [
        sequence(
            request(17, 1, {"mechanism": "PLAIN"}),
            request(36, 2, {"auth_bytes": b"\x00alice\x00alice-secret"}),
            request(3, 12, {"topics": None, "allow_auto_topic_creation": False}),
        ),
        sequence(
            request(17, 1, {"mechanism": "PLAIN"}), request(36, 2, {"auth_bytes": b"\x00alice\x00wrong"})
        ),
        sequence(
            request(17, 0, {"mechanism": "PLAIN"}), struct.pack(">H", RAW) + b"\x00alice\x00alice-secret"
        ),
        sequence(
            request(17, 1, {"mechanism": "SCRAM-SHA-256"}),
            request(36, 2, {"auth_bytes": b"n,,n=bob,r=fuzznonce"}),
            request(36, 2, {"auth_bytes": b"c=biws,r=fuzznonceSERVER,p=AAAA"}),
        ),
        sequence(request(36, 2, {"auth_bytes": b"n,,n=bob,r=x"})),  # authenticate without a handshake
        sequence(request(51, 0, scram_upsert), request(50, 0, {"users": None})),
        sequence(
            create,
            request(
                22,
                4,
                {
                    "transactional_id": txn,
                    "transaction_timeout": 60000,
                    "producer_id": -1,
                    "producer_epoch": -1,
                },
            ),
            request(
                24,
                3,
                {
                    "v3_and_below_transactional_id": txn,
                    "v3_and_below_producer_id": 0,
                    "v3_and_below_producer_epoch": 0,
                    "v3_and_below_topics": [{"name": "fz", "partitions": [0, 1]}],
                },
            ),
            request(0, 9, produce),
            request(25, 3, {"transactional_id": txn, "producer_id": 0, "producer_epoch": 0, "group_id": "g"}),
            request(
                28,
                3,
                {
                    "transactional_id": txn,
                    "group_id": "g",
                    "producer_id": 0,
                    "producer_epoch": 0,
                    "topics": [{"name": "fz", "partitions": [{"partition_index": 0, "committed_offset": 1}]}],
                },
            ),
            request(
                26, 3, {"transactional_id": txn, "producer_id": 0, "producer_epoch": 0, "committed": True}
            ),
        ),
        sequence(
            create,
            request(65, 0, {"transactional_ids": [txn, "none"]}),
            request(66, 0, {"state_filters": [], "producer_id_filters": []}),
            request(61, 0, {"topics": [{"name": "fz", "partition_indexes": [0, 1, 7]}]}),
        ),
        sequence(
            create,
            request(
                27,
                1,
                {
                    "markers": [
                        {
                            "producer_id": 0,
                            "producer_epoch": 0,
                            "transaction_result": True,
                            "topics": [{"name": "fz", "partition_indexes": [0]}],
                            "coordinator_epoch": 0,
                        }
                    ]
                },
            ),
        ),
        sequence(
            create,
            request(
                0,
                9,
                {
                    **produce,
                    "transactional_id": None,
                    "acks": 1,
                    "topic_data": [{"name": "fz", "partition_data": [{"index": 0, "records": control}]}],
                },
            ),
            request(
                1,
                12,
                {
                    "replica_id": -1,
                    "max_wait": 0,
                    "min_bytes": 1,
                    "max_bytes": 1 << 20,
                    "isolation_level": 1,
                    "topics": [{**fetch_topic, "partitions": [fetch_partition]}],
                },
            ),
            request(
                2,
                7,
                {
                    "replica_id": -1,
                    "isolation_level": 1,
                    "topics": [{"name": "fz", "partitions": [{"partition_index": 0, "timestamp": -1}]}],
                },
            ),
        ),
        sequence(
            request(30, 3, {"creations": [acl]}),
            request(29, 3, acl_filter(resource_type_filter=2)),
            request(31, 3, {"filters": [acl_filter()]}),
        ),
    ]


def write(directory: Path, inputs: list[bytes]) -> None:
    directory.mkdir(exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    for data in inputs:
        (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main() -> None:
    write(CORPUS, seeds())
    write(HANDLER_CORPUS, handler_seeds())


if __name__ == "__main__":
    main()
