"""The controller's pure decisions: unclean election, bounced brokers, controlled shutdown, preferred leaders."""

from brook.metadata.zookeeper import (
    auto_rebalance_candidates,
    elect_leader,
    elect_leader_after_bounce,
    initial_state,
    leadership_predates_registration,
    move_off,
    preferred_leader,
    unclean_leader,
)


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


def test_a_leadership_written_before_the_leaders_registration_belongs_to_its_previous_run() -> None:
    # state written at zxid 100, leader registered again at zxid 150 (restarted, or a new session)
    assert leadership_predates_registration(2, 100, 150)
    # elected (or its ISR written) after the registration: this run's leadership
    assert not leadership_predates_registration(2, 200, 150)
    # not registered at all, or no leader: nothing to say
    assert not leadership_predates_registration(2, 100, None)
    assert not leadership_predates_registration(-1, 100, 150)


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


def test_the_preferred_replica_leads_again_only_from_the_isr() -> None:
    # broker 0 is back and in the ISR: it takes its partition back in a new epoch, the ISR unchanged
    assert preferred_leader((0, 1, 2), 1, 5, (1, 2, 0), {0, 1, 2}) == (0, 6, (1, 2, 0))
    assert preferred_leader((0, 1, 2), 0, 5, (0, 1, 2), {0, 1, 2}) is None  # it already leads
    assert preferred_leader((0, 1, 2), 1, 5, (1, 2), {0, 1, 2}) is None  # still catching up
    assert preferred_leader((0, 1, 2), 1, 5, (0, 1, 2), {1, 2}) is None  # registered no more
    assert preferred_leader((), -1, 0, (), {0}) is None


def test_an_unclean_election_needs_a_dead_leader_and_prefers_the_isr() -> None:
    assert unclean_leader((0, 1, 2), 0, 3, (0, 1), {0, 1, 2}) is None  # the leader lives
    assert unclean_leader((0, 1, 2), -1, 3, (0,), {1, 2}) == (1, 4, (1,))  # out of the ISR, alone
    assert unclean_leader((0, 1, 2), 0, 3, (0, 2), {1, 2}) == (2, 4, (2,))  # a live ISR member first
    assert unclean_leader((0, 1), -1, 3, (0,), set()) is None  # nobody to elect


def test_auto_rebalance_moves_leaders_back_past_the_imbalance_threshold() -> None:
    live = {0, 1, 2}
    # broker 0 prefers 4 partitions and leads 2 of them: 50% imbalance
    views = {
        "a": ((0, 1, 2), 0, (0, 1, 2)),
        "b": ((0, 2, 1), 0, (0, 1, 2)),
        "c": ((0, 1, 2), 1, (0, 1, 2)),
        "d": ((0, 2, 1), 2, (2, 1)),  # broker 0 not in the ISR: cannot take it back
        "e": ((1, 2, 0), 1, (1, 2, 0)),
    }
    assert auto_rebalance_candidates(views, live, 10) == ["c"]
    assert auto_rebalance_candidates(views, live, 50) == []  # 2 of 4 is not above 50%
    assert auto_rebalance_candidates(views, {1, 2}, 10) == []  # broker 0 is not registered
    # one of ten elsewhere is 10%: not above the default threshold
    ten = {str(i): ((0, 1), 0 if i else 1, (0, 1)) for i in range(10)}
    assert auto_rebalance_candidates(ten, live, 10) == []
    assert auto_rebalance_candidates(ten, live, 9) == ["0"]
