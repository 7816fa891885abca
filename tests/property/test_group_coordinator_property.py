"""GroupCoordinator under random interleavings of clients and time: it never crashes, answers every
parked JoinGroup/SyncGroup exactly once, keeps its states consistent, never stalls once clients go
quiet, and a replay of what it wrote restores the same committed offsets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from brook.common.clock import FakeClock
from brook.common.errors import ErrorCode
from brook.common.types import TopicPartition
from brook.coordinator import CoordinatorConfig, GroupCoordinator, GroupState, JoinParams
from tests.unit.coordinator.conftest import MemoryOffsetsWriter

PARTITIONS = 2
CLIENTS = 4
CONFIG = CoordinatorConfig(
    offsets_topic_partitions=PARTITIONS,
    initial_rebalance_delay_ms=0,
    new_member_join_timeout_ms=20_000,
    max_group_size=3,
)


@dataclass
class Client:
    index: int
    static: bool
    member_id: str = ""
    generation: int = -1


@dataclass
class Calls:
    results: list[list[Any]] = field(default_factory=list)

    def callback(self, client: Client) -> Any:
        sink: list[Any] = []
        self.results.append(sink)

        def respond(result: Any) -> None:
            sink.append(result)
            assert len(sink) == 1, f"answered twice: {sink}"
            if getattr(result, "member_id", None) is not None and result.error_code in (
                ErrorCode.none,
                ErrorCode.member_id_required,
            ):
                client.member_id = result.member_id
                if result.error_code == ErrorCode.none:
                    client.generation = result.generation_id

        return respond

    def commit_callback(self) -> Any:
        sink: list[Any] = []
        self.results.append(sink)
        return lambda error, results: sink.append((error, results))


client_index = st.integers(0, CLIENTS - 1)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("join"), client_index, st.booleans()),
        st.tuples(st.just("sync"), client_index, st.booleans()),
        st.tuples(st.just("heartbeat"), client_index, st.booleans()),
        st.tuples(st.just("leave"), client_index, st.booleans()),
        st.tuples(st.just("commit"), client_index, st.integers(0, 100)),
        st.tuples(st.just("advance"), st.integers(0, 12_000), st.booleans()),
    ),
    max_size=60,
)


def check_consistent(coordinator: GroupCoordinator) -> None:
    for group in coordinator._groups.values():
        if group.state is GroupState.EMPTY:
            assert not group.members
        if group.members:
            assert group.leader_id in group.members
        for m in group.members.values():
            if m.awaiting_join is not None:
                assert group.state is GroupState.PREPARING_REBALANCE
            if m.awaiting_sync is not None:
                assert group.state is GroupState.COMPLETING_REBALANCE
        if (
            group.state is not GroupState.PREPARING_REBALANCE
        ):  # joiners may overshoot until the join completes
            assert len(group.members) <= CONFIG.max_group_size


def apply(
    op: tuple[Any, ...], coordinator: GroupCoordinator, clock: FakeClock, clients: list[Client], calls: Calls
) -> None:
    kind = op[0]
    if kind == "advance":
        clock.advance(op[1])
        coordinator.tick(clock.now_ms())
        return
    c = clients[op[1]]
    instance = f"i{c.index}" if c.static else None
    if kind == "join":
        member_id = c.member_id if op[2] else ""
        params = JoinParams(
            "g",
            member_id,
            instance,
            "consumer",
            [("range", b"m%d" % c.index)],
            6_000 + 1000 * c.index,
            10_000,
        )
        coordinator.join_group(params, calls.callback(c))
    elif kind == "sync":
        generation = c.generation if op[2] else c.generation - 1
        assignments = {m.member_id: b"a" for m in clients if m.member_id}
        coordinator.sync_group("g", generation, c.member_id, instance, assignments, calls.callback(c))
    elif kind == "heartbeat":
        coordinator.heartbeat("g", c.generation if op[2] else 99, c.member_id, instance)
    elif kind == "leave":
        coordinator.leave_group("g", [(c.member_id if op[2] else "", instance)])
    elif kind == "commit":
        offsets = {TopicPartition("t", c.index % 2): (op[2], -1, "x")}
        coordinator.commit_offsets("g", c.generation, c.member_id, instance, offsets, calls.commit_callback())


@given(ops=operations, statics=st.lists(st.booleans(), min_size=CLIENTS, max_size=CLIENTS))
def test_random_client_behaviour_keeps_the_coordinator_sound(ops, statics):
    clock = FakeClock()
    writer = MemoryOffsetsWriter()
    coordinator = GroupCoordinator(CONFIG, writer, clock)
    for p in range(PARTITIONS):
        coordinator.begin_loading(p)
        coordinator.finish_loading(p)
    clients = [Client(i, static) for i, static in enumerate(statics)]
    calls = Calls()
    for op in ops:
        apply(op, coordinator, clock, clients, calls)
        check_consistent(coordinator)

    # Clients go quiet: within the timeouts every parked call is answered and the group empties.
    for _ in range(40):
        clock.advance(1_000)
        coordinator.tick(clock.now_ms())
        check_consistent(coordinator)
    assert all(len(sink) == 1 for sink in calls.results)
    group = coordinator._groups.get("g")
    assert group is None or group.state is GroupState.EMPTY

    # What was written replays into the same committed offsets.
    fresh = GroupCoordinator(CONFIG, writer, clock)
    for p in range(PARTITIONS):
        fresh.begin_loading(p)
        for key, value in writer.records.get(p, []):
            fresh.replay(p, key, value)
        fresh.finish_loading(p)
    assert fresh.fetch_offsets("g", None) == coordinator.fetch_offsets("g", None)
