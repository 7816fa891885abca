"""The field lists of the old API versions protocol/legacy.py codes (kio, following Kafka 4.x, lacks them).

Each is the version's fields from Kafka 3.9's `clients/src/main/resources/common/message/*.json`, in wire
order (all classic, non-flexible encodings). A field is (name, type); a type is a primitive name (int8,
int16, int32, int64, bool, string, nstring = nullable string) or ("array"|"narray", element) where the
element is a primitive name or a tuple of fields (narray: the count may be -1, null). Names are those of
the nearest version kio has, so the handlers read one set of attribute names whatever the version.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REQUESTS", "RESPONSES", "Field"]

Field = tuple[str, Any]


def _array(*fields: Field) -> tuple[str, tuple[Field, ...]]:
    return ("array", fields)


def _narray(*fields: Field) -> tuple[str, tuple[Field, ...]]:
    return ("narray", fields)


# --- requests: (api_key, version) -> (fields, defaults of the newer fields) ---------------------

_FETCH_PARTITIONS = _array(
    ("topic", "string"),
    (
        "partitions",
        _array(("partition", "int32"), ("fetch_offset", "int64"), ("partition_max_bytes", "int32")),
    ),
)
_FETCH_V0 = (
    ("replica_id", "int32"),
    ("max_wait", "int32"),
    ("min_bytes", "int32"),
    ("topics", _FETCH_PARTITIONS),
)
_FETCH_V3 = (
    ("replica_id", "int32"),
    ("max_wait", "int32"),
    ("min_bytes", "int32"),
    ("max_bytes", "int32"),
    ("topics", _FETCH_PARTITIONS),
)
_CREATE_TOPICS_V0 = (
    (
        "topics",
        _array(
            ("name", "string"),
            ("num_partitions", "int32"),
            ("replication_factor", "int16"),
            ("assignments", _array(("partition_index", "int32"), ("broker_ids", ("array", "int32")))),
            ("configs", _array(("name", "string"), ("value", "nstring"))),
        ),
    ),
    ("timeout_ms", "int32"),
)

# WriteTxnMarkers v0 (broker to broker; kio starts at v1, its flexible twin)
_WRITE_TXN_MARKERS_V0 = (
    (
        "markers",
        _array(
            ("producer_id", "int64"),
            ("producer_epoch", "int16"),
            ("transaction_result", "bool"),
            ("topics", _array(("name", "string"), ("partition_indexes", ("array", "int32")))),
            ("coordinator_epoch", "int32"),
        ),
    ),
)
_WRITE_TXN_MARKERS_RESPONSE_V0 = (
    (
        "markers",
        _array(
            ("producer_id", "int64"),
            (
                "topics",
                _array(
                    ("name", "string"),
                    ("partitions", _array(("partition_index", "int32"), ("error_code", "int16"))),
                ),
            ),
        ),
    ),
)

REQUESTS: dict[tuple[int, int], tuple[tuple[Field, ...], dict[str, Any]]] = {
    (27, 0): (_WRITE_TXN_MARKERS_V0, {}),
    (1, 0): (_FETCH_V0, {}),
    (1, 1): (_FETCH_V0, {}),
    (1, 2): (_FETCH_V0, {}),
    (1, 3): (_FETCH_V3, {}),
    # ListOffsets v0: max_num_offsets per partition; the answer is an array of offsets
    (2, 0): (
        (
            ("replica_id", "int32"),
            (
                "topics",
                _array(
                    ("name", "string"),
                    (
                        "partitions",
                        _array(
                            ("partition_index", "int32"), ("timestamp", "int64"), ("max_num_offsets", "int32")
                        ),
                    ),
                ),
            ),
        ),
        {"isolation_level": 0},
    ),
    # OffsetCommit v0: no group membership (a "simple" commit); v1 adds it and a per-partition commit_timestamp
    (8, 0): (
        (
            ("group_id", "string"),
            (
                "topics",
                _array(
                    ("name", "string"),
                    (
                        "partitions",
                        _array(
                            ("partition_index", "int32"),
                            ("committed_offset", "int64"),
                            ("committed_metadata", "nstring"),
                        ),
                    ),
                ),
            ),
        ),
        {"generation_id_or_member_epoch": -1, "member_id": "", "retention_time": -1},
    ),
    (8, 1): (
        (
            ("group_id", "string"),
            ("generation_id_or_member_epoch", "int32"),
            ("member_id", "string"),
            (
                "topics",
                _array(
                    ("name", "string"),
                    (
                        "partitions",
                        _array(
                            ("partition_index", "int32"),
                            ("committed_offset", "int64"),
                            ("commit_timestamp", "int64"),
                            ("committed_metadata", "nstring"),
                        ),
                    ),
                ),
            ),
        ),
        {"retention_time": -1},
    ),
    # OffsetFetch v0: the same layout as v1 (Kafka 3.x in ZooKeeper mode read v0 offsets from ZooKeeper)
    (9, 0): (
        (
            ("group_id", "string"),
            ("topics", _array(("name", "string"), ("partition_indexes", ("array", "int32")))),
        ),
        {"require_stable": False},
    ),
    (19, 0): (_CREATE_TOPICS_V0, {"validate_only": False}),
    (19, 1): ((*_CREATE_TOPICS_V0, ("validate_only", "bool")), {}),
    (20, 0): ((("topic_names", ("array", "string")), ("timeout_ms", "int32")), {}),
    # DescribeConfigs v0: no include_synonyms / include_documentation
    (32, 0): (
        (
            (
                "resources",
                _array(
                    ("resource_type", "int8"),
                    ("resource_name", "string"),
                    ("configuration_keys", ("narray", "string")),
                ),
            ),
        ),
        {"include_synonyms": False, "include_documentation": False},
    ),
    (35, 0): ((("topics", _narray(("topic", "string"), ("partitions", ("array", "int32")))),), {}),
}

# --- responses: (api_key, version) -> fields ---------------------------------------------------

_COMMIT_RESPONSE = (
    (
        "topics",
        _array(
            ("name", "string"), ("partitions", _array(("partition_index", "int32"), ("error_code", "int16")))
        ),
    ),
)

RESPONSES: dict[tuple[int, int], tuple[Field, ...]] = {
    (2, 0): (
        (
            "topics",
            _array(
                ("name", "string"),
                (
                    "partitions",
                    _array(
                        ("partition_index", "int32"),
                        ("error_code", "int16"),
                        ("old_style_offsets", ("array", "int64")),
                    ),
                ),
            ),
        ),
    ),
    (8, 0): _COMMIT_RESPONSE,
    (8, 1): _COMMIT_RESPONSE,
    (9, 0): (
        (
            "topics",
            _array(
                ("name", "string"),
                (
                    "partitions",
                    _array(
                        ("partition_index", "int32"),
                        ("committed_offset", "int64"),
                        ("metadata", "nstring"),
                        ("error_code", "int16"),
                    ),
                ),
            ),
        ),
    ),
    (19, 0): (("topics", _array(("name", "string"), ("error_code", "int16"))),),
    (19, 1): (("topics", _array(("name", "string"), ("error_code", "int16"), ("error_message", "nstring"))),),
    (20, 0): (("responses", _array(("name", "string"), ("error_code", "int16"))),),
    (32, 0): (
        ("throttle_time", "int32"),
        (
            "results",
            _array(
                ("error_code", "int16"),
                ("error_message", "nstring"),
                ("resource_type", "int8"),
                ("resource_name", "string"),
                (
                    "configs",
                    _array(
                        ("name", "string"),
                        ("value", "nstring"),
                        ("read_only", "bool"),
                        ("is_default", "bool"),
                        ("is_sensitive", "bool"),
                    ),
                ),
            ),
        ),
    ),
    (35, 0): (
        ("throttle_time", "int32"),
        (
            "results",
            _array(
                ("error_code", "int16"),
                ("log_dir", "string"),
                (
                    "topics",
                    _array(
                        ("name", "string"),
                        (
                            "partitions",
                            _array(
                                ("partition_index", "int32"),
                                ("partition_size", "int64"),
                                ("offset_lag", "int64"),
                                ("is_future_key", "bool"),
                            ),
                        ),
                    ),
                ),
            ),
        ),
    ),
    (27, 0): _WRITE_TXN_MARKERS_RESPONSE_V0,
}
