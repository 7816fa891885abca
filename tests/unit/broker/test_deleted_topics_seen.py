"""Which topics a look at the metadata shows as deleted (GroupService removes their committed offsets)."""

import uuid

from brook.broker.group_service import deleted_topics, stale_topics

A, B, C = (uuid.uuid4() for _ in range(3))


def test_gone_and_recreated_topics_are_deleted_new_ones_are_not():
    previous = {"kept": A, "gone": B, "recreated": C}
    current = {"kept": A, "recreated": uuid.uuid4(), "new": uuid.uuid4()}
    assert deleted_topics(previous, current) == ["gone", "recreated"]
    assert deleted_topics(current, current) == []
    assert deleted_topics({}, current) == []


def test_stale_offsets_after_a_load_are_every_missing_topic_on_one_node_only_seen_deletions_on_a_cluster():
    committed = {"kept", "gone", "unknown-here"}
    existing = {"kept", "other"}
    assert stale_topics(committed, existing, None) == {"gone", "unknown-here"}
    # a cluster broker's metadata may not have a topic another broker just created: only what it saw deleted
    assert stale_topics(committed, existing, {"gone", "other"}) == {"gone"}
    assert stale_topics(committed, existing | {"gone"}, {"gone"}) == set()  # created again since
