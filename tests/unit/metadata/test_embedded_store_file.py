"""The embedded store's file: every change writes all of it, but encodes again only the topics that changed
(10,000 partitions encoded on every change held the GIL for 0.2 s), and a restart reads back what was written."""

import json
from pathlib import Path

import pytest

from brook.metadata import embedded
from brook.metadata.embedded import EmbeddedMetadataStore


@pytest.fixture
def encoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The topics each change encoded."""
    names: list[str] = []
    original = embedded._topic_json

    def counting(t):  # type: ignore[no-untyped-def]
        names.append(t.name)
        return original(t)

    monkeypatch.setattr(embedded, "_topic_json", counting)
    return names


def test_a_change_encodes_only_the_topic_it_changed(tmp_path: Path, encoded: list[str]) -> None:
    store = EmbeddedMetadataStore(tmp_path, 0)
    for name in ("a", "b", "c"):
        store.create_topic(name, 4, 1, {})
    encoded.clear()
    store.set_topic_configs("b", {"retention.ms": "1000"})
    assert encoded == ["b"]
    encoded.clear()
    store.add_partitions("c", 6)
    store.update_isr("a", 0, store.topic("a").partitions[0].leader_epoch, (0,))
    assert encoded == ["c", "a"]
    encoded.clear()
    store.allocate_producer_ids(1000)  # no topic changed
    store.delete_topic("a")
    assert encoded == []


def test_a_restart_reads_back_every_change(tmp_path: Path) -> None:
    store = EmbeddedMetadataStore(tmp_path, 0)
    store.create_topic("a", 3, 1, {"cleanup.policy": "compact"})
    store.create_topic("b", 1, 1, {})
    store.add_partitions("b", 2)
    store.set_topic_configs("a", {"retention.ms": "5"})
    store.set_broker_configs({"log.retention.ms": "7"})
    store.set_broker_configs({"num.io.threads": "3"}, node_id=0)
    first = store.allocate_producer_ids(10)
    store.delete_topic("b")
    store.create_topic("c", 2, 1, {}, internal=True)

    again = EmbeddedMetadataStore(tmp_path, 0)
    assert again.cluster_id == store.cluster_id
    assert dict(again.topics()) == dict(store.topics())
    assert again.topic("a").configs == {"retention.ms": "5"}
    assert again.topic("c").internal
    assert dict(again.broker_configs()) == {"log.retention.ms": "7"}
    assert dict(again.broker_configs(0)) == {"num.io.threads": "3"}
    assert again.allocate_producer_ids(1) == first + 10


def test_a_file_an_older_release_pretty_printed_still_loads(tmp_path: Path) -> None:
    store = EmbeddedMetadataStore(tmp_path, 0)
    store.create_topic("a", 2, 1, {"retention.ms": "5"})
    path = tmp_path / embedded.FILE_NAME
    path.write_text(json.dumps(json.loads(path.read_text()), indent=1, sort_keys=True))  # the old layout
    again = EmbeddedMetadataStore(tmp_path, 0)
    assert dict(again.topics()) == dict(store.topics())
    again.set_topic_configs("a", {})  # and is written compact from then on
    assert "\n" not in path.read_text()
    assert dict(EmbeddedMetadataStore(tmp_path, 0).topics()) == dict(again.topics())
