"""Which user a /config/changes notification names (metadata/zookeeper/scram_cache.py)."""

from __future__ import annotations

import json

import pytest

from brook.metadata.zookeeper.client_quotas import entity_path
from brook.metadata.zookeeper.scram_cache import notified_user


@pytest.mark.parametrize("user", ["alice", "a b,c=d", "ü@x", "~tilde"])
def test_a_user_notification_names_the_user_as_written(user):
    path = entity_path((("user", user),))  # what write_scram_credential posts
    assert notified_user(json.dumps({"version": 2, "entity_path": path}).encode()) == user


@pytest.mark.parametrize(
    "data",
    [
        b'{"version": 2, "entity_path": "topics/orders"}',
        b'{"version": 2, "entity_path": "clients/app"}',
        b'{"version": 2, "entity_path": "users/alice/clients/app"}',  # a client-id quota of alice
        b'{"version": 2}',
        b"[1, 2]",
        b"not json",
        b"\xff\xfe",
    ],
)
def test_other_or_unreadable_notifications_name_no_user(data):
    assert notified_user(data) is None
