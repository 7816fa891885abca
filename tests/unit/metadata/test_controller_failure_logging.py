"""What the ZooKeeper controller logs when a pass fails: the stack of the first failure in a row, except for
ZooKeeper connection trouble, which a cluster rides out under faults and whose stack says nothing more."""

from __future__ import annotations

import pytest
from kazoo.exceptions import (
    BadVersionError,
    ConnectionClosedError,
    ConnectionDropped,
    ConnectionLoss,
    NoNodeError,
    OperationTimeoutError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError

from brook.metadata.zookeeper.controller import traceback_worth_logging

CONNECTION_TROUBLE = [
    ConnectionLoss(),
    SessionExpiredError(),
    ConnectionClosedError(),
    OperationTimeoutError(),
    ConnectionDropped("socket closed"),
    KazooTimeoutError("connection time-out"),
]
SURPRISES = [NoNodeError(), BadVersionError(), KeyError("brokers"), RuntimeError("bug")]


@pytest.mark.parametrize("exc", CONNECTION_TROUBLE, ids=lambda e: type(e).__name__)
def test_connection_trouble_is_logged_without_a_stack(exc: Exception) -> None:
    assert not traceback_worth_logging(exc, 1)


@pytest.mark.parametrize("exc", SURPRISES, ids=lambda e: type(e).__name__)
def test_anything_else_gets_its_stack_on_the_first_failure_in_a_row_only(exc: Exception) -> None:
    assert traceback_worth_logging(exc, 1)
    assert not traceback_worth_logging(exc, 2)
