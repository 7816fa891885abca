"""Issue 10's fault scenarios that hold today, on real brokers, a real ZooKeeper and confluent-kafka clients.
The scenarios themselves are in scenarios.py; the ones that still fail are listed in pending_scenarios.py."""

import pytest

from tests.cluster import scenarios

pytestmark = [pytest.mark.cluster, pytest.mark.zookeeper, pytest.mark.slow]


def test_killing_the_broker_that_is_controller_and_leader_loses_no_acknowledged_record(zookeeper, tmp_path):
    """(g) a new controller and a new leader in the next epoch; every acked record at its offset; the killed
    broker rejoins the ISR with a byte-identical log."""
    scenarios.kill_controller_and_leader(zookeeper, tmp_path)


def test_a_broker_cut_off_from_zookeeper_and_a_zookeeper_restart_under_load_lose_nothing(tmp_path):
    """(d) the leader's session expires while producing, leadership moves, it rejoins; then ZooKeeper itself
    restarts; the checker finds no lost, duplicated, reordered or misplaced record."""
    scenarios.zookeeper_cut_and_restart_under_load(None, tmp_path)


def test_killing_the_group_coordinator_while_committing_never_moves_committed_offsets_back(
    zookeeper, tmp_path
):
    """(e) commits every 100 ms, a paused third replica of the offsets partition, the coordinator killed:
    no committed offset read back (or resumed from) below an acknowledged commit."""
    scenarios.coordinator_killed_while_committing(zookeeper, tmp_path)


def test_records_read_after_a_full_restart_survive_the_next_leader_kill(zookeeper, tmp_path):
    """(h) acks=all requests time out (followers paused), the whole cluster is killed and restarted, then the
    leader is killed: what consumers read before is still there after, and every acked record too."""
    scenarios.full_restart_after_timed_out_acks_then_leader_kill(zookeeper, tmp_path)


def test_three_leaders_in_a_row_leave_a_paused_replica_able_to_rejoin_with_an_identical_log(
    zookeeper, tmp_path
):
    """(b) a replica paused through three leader changes (epochs 1-3) catches up and all three logs end
    byte-identical, holding exactly the acknowledged records."""
    scenarios.three_leaders_with_a_paused_replica(zookeeper, tmp_path)
