"""Which topics a look at the metadata shows as deleted (GroupService removes their committed offsets)."""

import uuid

from brook.broker.group_service import deleted_topics

A, B, C = (uuid.uuid4() for _ in range(3))


def test_gone_and_recreated_topics_are_deleted_new_ones_are_not():
    previous = {"kept": A, "gone": B, "recreated": C}
    current = {"kept": A, "recreated": uuid.uuid4(), "new": uuid.uuid4()}
    assert deleted_topics(previous, current) == ["gone", "recreated"]
    assert deleted_topics(current, current) == []
    assert deleted_topics({}, current) == []
