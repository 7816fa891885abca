"""The controller's pure decisions: unclean election, bounced brokers, controlled shutdown."""

from brook.metadata.zookeeper import elect_leader, elect_leader_after_bounce, initial_state, move_off


def test_no_live_isr_member_stays_offline_unless_unclean_election_is_enabled() -> None:
    # ISR {0}, broker 0 dead, replicas 1 and 2 alive but out of the ISR
    assert elect_leader((0, 1, 2), 0, 7, (0,), {1, 2}) == (-1, 8, (0,))
    assert elect_leader((0, 1, 2), -1, 8, (0,), {1, 2}) is None  # already offline: nothing to write
    assert elect_leader((0, 1, 2), -1, 8, (0,), {0, 1, 2}) == (0, 9, (0,))  # the ISR member returns
    # unclean.leader.election.enable: the first live replica leads alone
    assert elect_leader((0, 1, 2), 0, 7, (0,), {1, 2}, unclean=True) == (1, 8, (1,))
    assert elect_leader((0, 1, 2), -1, 8, (0,), {2}, unclean=True) == (2, 9, (2,))
    # unclean changes nothing while an ISR member lives
    assert elect_leader((0, 1, 2), 0, 7, (0, 2), {1, 2}, unclean=True) == (2, 8, (2,))
    # nobody alive at all: offline either way
    assert elect_leader((0, 1), 0, 3, (0, 1), set(), unclean=True) == (-1, 4, (0, 1))


def test_a_bounced_leader_loses_leadership_in_a_new_epoch() -> None:
    # broker 0 restarted between two controller passes: it leads no more, and leaves the ISR
    assert elect_leader_after_bounce((0, 1, 2), 0, 4, (0, 1, 2), {0, 1, 2}, {0}) == (1, 5, (1, 2))
    # a bounced follower leaves the ISR (it rejoins once it has caught up)
    assert elect_leader_after_bounce((0, 1, 2), 1, 4, (0, 1, 2), {0, 1, 2}, {0}) == (1, 4, (1, 2))
    # the only ISR member bounced: offline, then it leads again, two epochs later
    assert elect_leader_after_bounce((0, 1), 0, 4, (0,), {0, 1}, {0}) == (0, 6, (0,))
    # a bounce of a broker that holds no replica changes nothing
    assert elect_leader_after_bounce((0, 1), 0, 4, (0, 1), {0, 1, 2}, {2}) is None
    assert elect_leader_after_bounce((0, 1), 0, 4, (0, 1), {0, 1}, set()) is None


def test_controlled_shutdown_hands_leadership_to_the_next_live_isr_member() -> None:
    assert move_off((0, 1, 2), 0, 3, (0, 1, 2), 0, {0, 1, 2}) == (1, 4, (1, 2))
    assert move_off((0, 1, 2), 0, 3, (0, 2), 0, {0, 1, 2}) == (2, 4, (2,))
    # a live replica outside the ISR never takes over
    assert move_off((0, 1, 2), 0, 3, (0, 2), 0, {0, 1}) is None
    # RF 1 / nobody else in the ISR: keep leading until stopped
    assert move_off((0,), 0, 3, (0,), 0, {0}) is None
    # a follower in the ISR leaves it; the leader and its epoch stay
    assert move_off((0, 1, 2), 1, 3, (0, 1, 2), 0, {0, 1, 2}) == (1, 3, (1, 2))
    # not in the ISR, not leading: nothing to do
    assert move_off((0, 1, 2), 1, 3, (1, 2), 0, {0, 1, 2}) is None


def test_a_partition_written_without_state_goes_online_on_its_first_live_replica() -> None:
    assert initial_state((2, 0, 1), {0, 1, 2}) == (2, 0, (2, 0, 1))
    assert initial_state((2, 0, 1), {0, 1}) == (0, 0, (0, 1))  # the preferred replica is dead
    assert initial_state((2,), {0, 1}) is None  # nobody alive: it waits
