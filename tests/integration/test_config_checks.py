"""`brook serve` checks its configuration at start (Kafka's ConfigDef), and topic configs get the same messages."""

from __future__ import annotations

import subprocess
import sys

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from brook.testing import BrookProcess
from tests.integration.helpers import produce_all


def serve(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brook", "serve", "--port", "0", "--data-dir", str(tmp_path / "d"), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_invalid_override_refuses_to_start_with_one_line(tmp_path):
    result = serve(tmp_path, "--override", "num.partitions=abc", "--override", "log.retention.hours=-5x")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "brook: Invalid value abc for configuration num.partitions: Not a number of type INT"
    ]
    assert result.stdout == ""
    assert not (tmp_path / "d").exists()  # refused before anything was created


def test_an_invalid_value_in_server_properties_refuses_to_start(tmp_path):
    config = tmp_path / "server.properties"
    config.write_text("num.partitions=3\nlog.cleaner.min.cleanable.ratio=2\n")
    result = serve(tmp_path, "--config", str(config))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "brook: Invalid value 2 for configuration log.cleaner.min.cleanable.ratio: Value must be no more than 1"
    ]


def test_a_misspelled_key_is_a_warning_that_names_the_right_key(tmp_path):
    with BrookProcess(data_dir=tmp_path / "d", overrides={"num.partitons": "3"}) as broker:
        assert (
            "The configuration 'num.partitons' was supplied but isn't a known config; did you mean num.partitions?"
            in (broker.log_text())
        )
        produce_all(broker.bootstrap, "auto", [(None, b"x")])  # auto-created with the real num.partitions
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        assert len(admin.list_topics(timeout=10).topics["auto"].partitions) == 1


@pytest.fixture
def admin(kafka_broker):
    return AdminClient({"bootstrap.servers": kafka_broker.bootstrap})


def _error(future) -> KafkaError:
    with pytest.raises(KafkaException) as raised:
        future.result(15)
    return raised.value.args[0]


def test_topic_configs_are_refused_with_the_same_messages(admin):
    bad = NewTopic("cfg-checked", 1, 1, config={"retention.ms": "soon"})
    error = _error(admin.create_topics([bad])["cfg-checked"])
    assert error.code() == KafkaError.INVALID_CONFIG
    assert "Invalid value soon for configuration retention.ms: Not a number of type LONG" in error.str()
    typo = NewTopic("cfg-checked", 1, 1, config={"retention.msx": "1"})
    error = _error(admin.create_topics([typo])["cfg-checked"])
    assert "Unknown topic config name: retention.msx; did you mean retention.ms?" in error.str()

    admin.create_topics([NewTopic("cfg-checked", 1, 1)])["cfg-checked"].result(15)
    resource = ConfigResource("topic", "cfg-checked")
    resource.add_incremental_config(
        ConfigEntry("min.cleanable.dirty.ratio", "7", incremental_operation=AlterConfigOpType.SET)
    )
    error = _error(next(iter(admin.incremental_alter_configs([resource]).values())))
    assert error.code() == KafkaError.INVALID_CONFIG
    assert (
        "Invalid value 7 for configuration min.cleanable.dirty.ratio: Value must be no more than 1"
        in error.str()
    )


def test_an_unknown_authorizer_class_refuses_to_start(tmp_path):
    result = serve(tmp_path, "--override", "authorizer.class.name=com.example.MyAuthorizer")
    assert result.returncode == 1
    assert "authorizer.class.name=com.example.MyAuthorizer is not available in brook" in result.stderr
    assert "kafka.security.authorizer.AclAuthorizer" in result.stderr
