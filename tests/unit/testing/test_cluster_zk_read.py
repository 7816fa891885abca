"""The test harness's own ZooKeeper reads outlast a ZooKeeper pause (chaos seed 68 ended in a traceback when
the harness's session expired during one)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kazoo.exceptions import ConnectionLoss, NoNodeError, SessionExpiredError

from brook.testing.cluster import zk_read


class _Done:
    def __init__(self, outcome: object) -> None:
        self.outcome = outcome

    def get(self, timeout: float) -> object:
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def _calls(*outcomes: object) -> tuple[Callable[[str], _Done], list[str]]:
    pending = list(outcomes)
    asked: list[str] = []

    def call(path: str) -> _Done:
        asked.append(path)
        return _Done(pending.pop(0) if len(pending) > 1 else pending[0])

    return call, asked


def test_a_lost_session_or_connection_is_read_again() -> None:
    call, asked = _calls(SessionExpiredError(), ConnectionLoss(), (b"{}", None))
    assert zk_read(call, "/brokers/ids") == (b"{}", None)
    assert asked == ["/brokers/ids"] * 3


def test_a_missing_node_is_none_at_once() -> None:
    call, asked = _calls(NoNodeError())
    assert zk_read(call, "/brokers/topics/t") is None
    assert asked == ["/brokers/topics/t"]


def test_a_session_that_never_comes_back_raises_after_the_retry_time() -> None:
    call, asked = _calls(SessionExpiredError())
    with pytest.raises(SessionExpiredError):
        zk_read(call, "/controller", retry_s=0.5)
    assert 2 <= len(asked) <= 5
