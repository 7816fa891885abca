"""Metadata's rule for a partition's leader (handlers/metadata.py), as Kafka's MetadataCache answers."""

from brook.broker.handlers.metadata import _leader_error
from brook.common.errors import ErrorCode

REACHABLE = {0, 1}  # live, with the client's listener
ALIVE = {0, 1, 2}  # 2 is live without that listener


def test_a_live_leader_on_the_clients_listener_is_named() -> None:
    assert _leader_error(1, REACHABLE, ALIVE, 12) == ErrorCode.none


def test_a_dead_leader_not_replaced_yet_and_no_leader_are_leader_not_available() -> None:
    assert _leader_error(3, REACHABLE, ALIVE, 12) == ErrorCode.leader_not_available
    assert _leader_error(-1, REACHABLE, ALIVE, 12) == ErrorCode.leader_not_available


def test_a_live_leader_without_the_listener_is_listener_not_found_from_v6() -> None:
    assert _leader_error(2, REACHABLE, ALIVE, 6) == ErrorCode.listener_not_found
    assert _leader_error(2, REACHABLE, ALIVE, 5) == ErrorCode.leader_not_available
