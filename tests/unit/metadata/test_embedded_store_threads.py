"""The embedded metadata store is written from the broker's metadata worker threads (several at once: a topic
write and a producer id block, as a Java producer's first send asks for both). Every change must reach the file."""

from __future__ import annotations

import threading
from pathlib import Path

from brook.metadata.embedded import EmbeddedMetadataStore


def test_concurrent_changes_from_threads_all_reach_the_file(tmp_path: Path) -> None:
    store = EmbeddedMetadataStore(tmp_path, node_id=0)
    rounds = 40
    start = threading.Barrier(3)
    blocks: list[int] = []

    def create_topics() -> None:
        start.wait()
        for i in range(rounds):
            store.create_topic(f"t{i}", 1, 1, {})

    def allocate_ids() -> None:
        start.wait()
        for _ in range(rounds):
            blocks.append(store.allocate_producer_ids(1000))

    def set_quotas() -> None:
        start.wait()
        for i in range(rounds):
            store.set_client_quota((("user", f"u{i}"),), {"producer_byte_rate": float(i + 1)})

    threads = [threading.Thread(target=fn) for fn in (create_topics, allocate_ids, set_quotas)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(blocks) == [1000 * i for i in range(rounds)]  # no block handed out twice
    reopened = EmbeddedMetadataStore(tmp_path, node_id=0)
    assert set(reopened.topics()) == {f"t{i}" for i in range(rounds)}
    assert {n: t.topic_id for n, t in reopened.topics().items()} == {
        n: t.topic_id for n, t in store.topics().items()
    }
    assert reopened.allocate_producer_ids(1) == 1000 * rounds
    assert len(reopened.client_quotas()) == rounds
