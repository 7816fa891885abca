"""Fakes for driving GroupCoordinator: a FakeClock and an in-memory `__consumer_offsets` writer."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from brook.common.clock import FakeClock
from brook.common.errors import BrookError, ErrorCode
from brook.coordinator import (
    CoordinatorConfig,
    GroupCoordinator,
    JoinParams,
    JoinResult,
    ReplicatedCallback,
    SyncResult,
)

PARTITIONS = 4


class MemoryOffsetsWriter:
    """Keeps appended records per partition, in order; `fail` makes the next appends raise.

    Writes that wait for the ISR are answered at once with `replication` (ErrorCode.none: the ISR has
    them), or, with `hold`, kept in `waiting` until the test calls `replicate(...)`."""

    def __init__(self) -> None:
        self.records: dict[int, list[tuple[bytes, bytes | None]]] = {}
        self.fail: BrookError | None = None
        self.replication = ErrorCode.none
        self.hold = False
        self.waiting: list[ReplicatedCallback] = []

    def append(
        self,
        partition: int,
        records: list[tuple[bytes, bytes | None]],
        on_replicated: ReplicatedCallback | None = None,
    ) -> None:
        if self.fail is not None:
            raise self.fail
        self.records.setdefault(partition, []).extend(records)
        if on_replicated is None:
            return
        if self.hold:
            self.waiting.append(on_replicated)
        else:
            on_replicated(self.replication)

    def replicate(self, index: int = 0, code: ErrorCode = ErrorCode.none) -> None:
        """Answer the `index`-th write still waiting for the ISR."""
        self.waiting.pop(index)(code)


@dataclass
class Env:
    clock: FakeClock
    writer: MemoryOffsetsWriter
    coordinator: GroupCoordinator
    config: CoordinatorConfig

    def advance(self, ms: int) -> None:
        self.clock.advance(ms)
        self.coordinator.tick(self.clock.now_ms())

    def join(
        self,
        group: str = "g",
        member_id: str = "",
        *,
        instance: str | None = None,
        protocols: list[tuple[str, bytes]] | None = None,
        protocol_type: str = "consumer",
        session_ms: int = 10_000,
        rebalance_ms: int = 30_000,
        require_known: bool = True,
        client_id: str = "c",
    ) -> Pending:
        pending = Pending()
        self.coordinator.join_group(
            JoinParams(
                group,
                member_id,
                instance,
                protocol_type,
                protocols if protocols is not None else [("range", b"meta-" + client_id.encode())],
                session_ms,
                rebalance_ms,
                client_id=client_id,
                require_known_member_id=require_known,
            ),
            pending.results.append,
        )
        return pending

    def join_new(self, group: str = "g", **kwargs: object) -> Pending:
        """KIP-394 two-step join: MEMBER_ID_REQUIRED, then join with the id handed out."""
        first = self.join(group, **kwargs)  # type: ignore[arg-type]
        assert first.result.error_code == 79, first.result
        return self.join(group, first.result.member_id, **kwargs)  # type: ignore[arg-type]

    def sync(
        self, group: str, generation: int, member_id: str, assignments: dict[str, bytes] | None = None
    ) -> Pending:
        pending = Pending()
        self.coordinator.sync_group(
            group, generation, member_id, None, assignments or {}, pending.results.append
        )
        return pending

    def state(self, group: str = "g") -> str:
        error, description = self.coordinator.describe_group(group)
        assert error == 0
        assert description is not None
        return description.state


@dataclass
class Pending:
    results: list[JoinResult | SyncResult] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return bool(self.results)

    @property
    def result(self):  # type: ignore[no-untyped-def]
        assert len(self.results) == 1, self.results
        return self.results[0]


def make_env(**overrides: int) -> Env:
    clock = FakeClock()
    writer = MemoryOffsetsWriter()
    config = CoordinatorConfig(
        offsets_topic_partitions=PARTITIONS,
        initial_rebalance_delay_ms=overrides.pop("initial_rebalance_delay_ms", 0),
        **overrides,  # type: ignore[arg-type]
    )
    coordinator = GroupCoordinator(config, writer, clock)
    for p in range(PARTITIONS):
        coordinator.begin_loading(p)
        coordinator.finish_loading(p)
    return Env(clock, writer, coordinator, config)


@pytest.fixture
def env() -> Env:
    return make_env()
