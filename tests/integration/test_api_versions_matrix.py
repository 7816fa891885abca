"""Every advertised version of each topic/data API works against a real broker (raw requests)."""

from __future__ import annotations

import itertools

import pytest

from brook.common.errors import ErrorCode
from brook.records.batch import iter_batches
from brook.testing import BrookProcess, make_batch
from tests.integration.raw_client import RawClient

_names = (f"topic-{i}" for i in itertools.count())


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with BrookProcess(data_dir=tmp_path_factory.mktemp("versions")) as process:
        yield process


def _create(raw: RawClient, name: str, partitions: int = 1) -> None:
    response = raw.request(
        19,
        7,
        {"topics": [{"name": name, "num_partitions": partitions, "replication_factor": 1}], "timeout": 5000},
    )
    assert response.topics[0].error_code == ErrorCode.none


def _produce(raw: RawClient, name: str, version: int = 9, count: int = 3) -> int:
    batch = make_batch([(b"k%d" % i, b"v%d" % i) for i in range(count)])
    body = {
        "acks": -1,
        "timeout": 5000,
        "topic_data": [{"name": name, "partition_data": [{"index": 0, "records": batch}]}],
    }
    response = raw.request(0, version, body)
    partition = response.responses[0].partition_responses[0]
    assert partition.error_code == ErrorCode.none
    return partition.base_offset


@pytest.mark.parametrize("version", range(3, 10))
def test_produce(raw, version):
    name = next(_names)
    _create(raw, name)
    assert _produce(raw, name, version) == 0
    assert _produce(raw, name, version) == 3


@pytest.mark.parametrize("version", range(4, 13))
def test_fetch(raw, version):
    name = next(_names)
    _create(raw, name)
    _produce(raw, name, count=5)
    _produce(raw, name, count=5)
    partition = {
        "partition": 0,
        "fetch_offset": 5,
        "partition_max_bytes": 1 << 20,
        "current_leader_epoch": -1,
        "log_start_offset": -1,
    }
    body = {
        "replica_id": -1,
        "max_wait": 100,
        "min_bytes": 1,
        "max_bytes": 1 << 20,
        "isolation_level": 0,
        "session_id": 0,
        "session_epoch": -1,
        "topics": [{"topic": name, "partitions": [partition]}],
    }
    response = raw.request(1, version, body)
    data = response.responses[0].partitions[0]
    assert (data.error_code, data.high_watermark) == (ErrorCode.none, 10)
    assert [h.base_offset for _, h in iter_batches(data.records)] == [5]


@pytest.mark.parametrize("version", range(4, 13))
def test_fetch_out_of_range_carries_bounds(raw, version):
    name = next(_names)
    _create(raw, name)
    _produce(raw, name)
    partition = {
        "partition": 0,
        "fetch_offset": 99,
        "partition_max_bytes": 1 << 20,
        "current_leader_epoch": -1,
        "log_start_offset": -1,
    }
    body = {
        "replica_id": -1,
        "max_wait": 0,
        "min_bytes": 1,
        "max_bytes": 1 << 20,
        "session_epoch": -1,
        "topics": [{"topic": name, "partitions": [partition]}],
    }
    data = raw.request(1, version, body).responses[0].partitions[0]
    assert (data.error_code, data.high_watermark) == (ErrorCode.offset_out_of_range, 3)


@pytest.mark.parametrize("version", range(0, 13))
def test_metadata(raw, version):
    name = next(_names)
    _create(raw, name, partitions=2)
    response = raw.request(3, version, {"topics": [{"name": name}], "allow_auto_topic_creation": False})
    (topic,) = response.topics
    assert (topic.error_code, topic.name) == (ErrorCode.none, name)
    assert sorted(p.partition_index for p in topic.partitions) == [0, 1]
    assert [b.node_id for b in response.brokers] == [0]


@pytest.mark.parametrize("version", range(1, 8))
def test_list_offsets(raw, version):
    name = next(_names)
    _create(raw, name)
    _produce(raw, name, count=4)
    body = {
        "replica_id": -1,
        "topics": [{"name": name, "partitions": [{"partition_index": 0, "timestamp": t} for t in (-2, -1)]}],
    }
    partitions = raw.request(2, version, body).topics[0].partitions
    assert [(p.error_code, p.offset) for p in partitions] == [(ErrorCode.none, 0), (ErrorCode.none, 4)]


@pytest.mark.parametrize("version", range(0, 4))
def test_api_versions(raw, version):
    response = raw.request(18, version, {"client_software_name": "raw", "client_software_version": "1"})
    assert response.error_code == ErrorCode.none
    advertised = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
    assert advertised[0] == (0, 9)
    assert advertised[1] == (0, 12)
    assert advertised[3] == (0, 12)  # v12: topics by id (KIP-516)


@pytest.mark.parametrize("version", range(2, 8))
def test_create_topics(raw, version):
    name = next(_names)
    body = {"topics": [{"name": name, "num_partitions": 2, "replication_factor": 1}], "timeout": 5000}
    assert raw.request(19, version, body).topics[0].error_code == ErrorCode.none
    again = raw.request(19, version, body).topics[0]
    assert again.error_code == ErrorCode.topic_already_exists


@pytest.mark.parametrize("version", range(1, 7))
def test_delete_topics(raw, version):
    name = next(_names)
    _create(raw, name)
    body = {"topic_names": [name], "topics": [{"name": name}], "timeout": 5000}
    response = raw.request(20, version, body)
    assert response.responses[0].error_code == ErrorCode.none
    missing = raw.request(20, version, body).responses[0]
    assert missing.error_code == ErrorCode.unknown_topic_or_partition


@pytest.mark.parametrize("version", range(0, 5))
def test_init_producer_id(raw, version):
    first = raw.request(
        22,
        version,
        {"transactional_id": None, "transaction_timeout": 60000, "producer_id": -1, "producer_epoch": -1},
    )
    second = raw.request(
        22,
        version,
        {"transactional_id": None, "transaction_timeout": 60000, "producer_id": -1, "producer_epoch": -1},
    )
    assert (first.error_code, first.producer_epoch) == (ErrorCode.none, 0)
    assert second.producer_id > first.producer_id


@pytest.mark.parametrize("version", range(0, 4))
def test_create_partitions(raw, version):
    name = next(_names)
    _create(raw, name)
    body = {
        "topics": [{"name": name, "count": 3, "assignments": None}],
        "timeout": 5000,
        "validate_only": False,
    }
    assert raw.request(37, version, body).results[0].error_code == ErrorCode.none
    assert raw.request(37, version, body).results[0].error_code == ErrorCode.invalid_partitions


@pytest.mark.parametrize("version", range(1, 5))
def test_describe_configs(raw, version):
    name = next(_names)
    _create(raw, name)
    body = {"resources": [{"resource_type": 2, "resource_name": name, "configuration_keys": None}]}
    configs = {c.name: c.value for c in raw.request(32, version, body).results[0].configs}
    assert configs["cleanup.policy"] == "delete"
    assert configs["retention.ms"] == "604800000"


@pytest.mark.parametrize("version", range(0, 3))
def test_alter_configs(raw, version):
    name = next(_names)
    _create(raw, name)
    body = {
        "resources": [
            {
                "resource_type": 2,
                "resource_name": name,
                "configs": [{"name": "retention.ms", "value": "1234"}],
            }
        ],
        "validate_only": False,
    }
    assert raw.request(33, version, body).responses[0].error_code == ErrorCode.none
    described = raw.request(
        32,
        4,
        {"resources": [{"resource_type": 2, "resource_name": name, "configuration_keys": ["retention.ms"]}]},
    )
    assert described.results[0].configs[0].value == "1234"


@pytest.mark.parametrize("version", range(0, 2))
def test_incremental_alter_configs(raw, version):
    name = next(_names)
    _create(raw, name)
    change = {"name": "retention.bytes", "config_operation": 0, "value": "99"}
    body = {
        "resources": [{"resource_type": 2, "resource_name": name, "configs": [change]}],
        "validate_only": False,
    }
    assert raw.request(44, version, body).responses[0].error_code == ErrorCode.none


@pytest.mark.parametrize("version", range(0, 3))
def test_delete_records(raw, version):
    name = next(_names)
    _create(raw, name)
    _produce(raw, name, count=6)
    body = {"topics": [{"name": name, "partitions": [{"partition_index": 0, "offset": 2}]}], "timeout": 5000}
    partition = raw.request(21, version, body).topics[0].partitions[0]
    assert (partition.error_code, partition.low_watermark) == (ErrorCode.none, 2)


@pytest.mark.parametrize("version", range(0, 2))
def test_describe_cluster(raw, version):
    response = raw.request(60, version, {"include_cluster_authorized_operations": False, "endpoint_type": 1})
    assert response.error_code == ErrorCode.none
    assert [b.broker_id for b in response.brokers] == [0]


@pytest.mark.parametrize("version", range(1, 3))
def test_describe_log_dirs(raw, version, broker):
    name = next(_names)
    _create(raw, name, partitions=2)
    _produce(raw, name, count=5)
    response = raw.request(35, version, {"topics": [{"topic": name, "partitions": [0, 1]}]})
    (result,) = response.results
    assert (result.error_code, result.log_dir) == (ErrorCode.none, str(broker.data_dir))
    (topic,) = result.topics
    sizes = {p.partition_index: p.partition_size for p in topic.partitions}
    assert sizes[1] == 0
    assert sizes[0] > 5 * 4
