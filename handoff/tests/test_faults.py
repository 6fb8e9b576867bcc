"""The SLA engine under faults, with real Celery workers and beats on PostgreSQL and Redis.

- A worker killed with SIGKILL in the middle of a sweep: a new worker finishes it, and every
  due handoff ends with exactly one escalation, one history event and one notification.
- The broker down for a minute: the web keeps answering and committing, and once the broker
  is back the sweeps catch up on the handoffs that fell due meanwhile, once each.
- Two beats for five minutes, with deadlines falling due all the while: each escalation
  still happens once.

Each test runs its own redis-server on a free port as the broker, so that it may kill it and
nothing else's tasks reach its workers. The sweep runs every second and the check lease is
short, so that a lost check comes due again within the test.
"""

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from handoff.models import (
    ContactAttempt,
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    Escalation,
    EscalationLevel,
    Handoff,
    HandoffEvent,
    Notification,
    SlaPolicy,
)
from handoff.tests.celery_processes import (
    SWEEP_LOG_LINE,
    Processes,
    celery_env,
    free_port,
    start_beat,
    start_redis_server,
    start_worker,
    tasks_sent_to,
    wait_for,
    wait_until_ready,
)
from leads.models import Lead
from leads.tests.factories import LeadFactory, SourceFactory
from reps.tests.factories import RepFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

LEASE_SECONDS = 15
CATCH_UP_SECONDS = 120
EXTRA_SWEEPS = 3
OUTAGE_SECONDS = 60
TWO_BEATS_SECONDS = 300
BEAT_SENT_SWEEP = "Sending due task sla-sweep"


@dataclass
class Cluster:
    processes: Processes
    port: int
    broker: redis.Redis

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def logs(self) -> list[Path]:
        return list(self.processes.logs.values())

    def sweeps_done(self, worker: str) -> int:
        return self.processes.log(worker).count(SWEEP_LOG_LINE)

    def wait_for_more_sweeps(self, worker: str, count: int = EXTRA_SWEEPS) -> None:
        """Let the worker finish a few more sweeps, each of which could add a duplicate."""
        target = self.sweeps_done(worker) + count
        wait_for(
            lambda: self.sweeps_done(worker) >= target,
            seconds=60,
            what=f"{count} more sweeps",
            logs=self.logs,
        )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A private Redis; workers and beats are started by the test. Everything is stopped
    afterwards, whatever happened."""
    port = free_port()
    env = celery_env(
        broker_url=f"redis://127.0.0.1:{port}/0",
        folder=tmp_path,
        HANDOFF_SLA_CHECK_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    processes = Processes(folder=tmp_path, env=env)
    try:
        broker = start_redis_server(processes, "redis", port=port)
        yield Cluster(processes=processes, port=port, broker=broker)
    finally:
        processes.stop_all()


@pytest.fixture
def manager_alert_only() -> SlaPolicy:
    """One step per handoff, the manager alert at the deadline, which goes out at any hour:
    what the tests count does not depend on the rep's working hours when they run."""
    return SlaPolicy.objects.create(
        name="Alert only",
        warning_percent=0,
        remind_rep_after_hours=None,
        reassign_after_hours=None,
        return_after_hours=None,
        cadence_attempts=0,
    )


@pytest.fixture
def rep():  # noqa: ANN201
    return RepFactory(user__username="bdr", team__manager__username="boss")


def handoffs_due(*, rep, policy: SlaPolicy, due: list[datetime]) -> list[int]:  # noqa: ANN001
    """Open handoffs to the rep, one per deadline, written in bulk: their checks, not their
    creation, are what the tests exercise."""
    source = SourceFactory()
    leads = Lead.objects.bulk_create(LeadFactory.build_batch(len(due), source=source))
    now = timezone.now()
    handoffs = Handoff.objects.bulk_create(
        Handoff(
            lead=lead,
            rep=rep,
            policy=policy,
            first_response_hours=4,
            assigned_at=now - timedelta(hours=4),
            due_at=due_at,
            next_check_at=due_at,
        )
        for lead, due_at in zip(leads, due, strict=True)
    )
    return [handoff.pk for handoff in handoffs]


def escalated_count(handoff_ids: list[int]) -> int:
    return Escalation.objects.filter(handoff_id__in=handoff_ids).count()


def assert_escalated_exactly_once(handoff_ids: list[int], *, manager) -> None:  # noqa: ANN001
    """Each handoff has one manager alert, one history event and one notification with its
    email delivery; nothing is left to check on it."""
    escalations = Escalation.objects.filter(handoff_id__in=handoff_ids)
    assert Counter(escalations.values_list("handoff_id", flat=True)) == Counter(handoff_ids)
    assert set(escalations.values_list("level", flat=True)) == {EscalationLevel.MANAGER_ALERT}
    events = HandoffEvent.objects.filter(
        handoff_id__in=handoff_ids, kind=HandoffEvent.Kind.ESCALATED
    )
    assert Counter(events.values_list("handoff_id", flat=True)) == Counter(handoff_ids)
    keys = [f"escalation:{pk}" for pk in escalations.values_list("pk", flat=True)]
    notifications = Notification.objects.filter(recipient=manager, key__in=keys)
    assert Counter(notifications.values_list("key", flat=True)) == Counter(keys)
    assert set(notifications.values_list("kind", flat=True)) == {"handoff_escalated"}
    deliveries = Delivery.objects.filter(notification__in=notifications)
    assert Counter(deliveries.values_list("channel", flat=True)) == {
        DeliveryChannel.IN_APP: len(handoff_ids),
        DeliveryChannel.EMAIL: len(handoff_ids),
    }
    assert not Handoff.objects.filter(pk__in=handoff_ids, next_check_at__isnull=False).exists()


def test_a_worker_killed_mid_sweep_loses_and_duplicates_no_escalation(
    cluster, rep, manager_alert_only
):
    processes = cluster.processes
    start_worker(processes, "worker-1")
    start_beat(processes, "beat")
    wait_until_ready(processes, "worker-1", "beat")
    # Enough handoffs that their checks take several seconds: ten chunks of a hundred.
    count = 1000
    ids = handoffs_due(
        rep=rep, policy=manager_alert_only, due=[timezone.now() - timedelta(minutes=1)] * count
    )

    wait_for(
        lambda: escalated_count(ids) >= 50,
        seconds=60,
        what="the first escalations",
        logs=cluster.logs,
    )
    processes.kill("worker-1")
    done_at_kill = escalated_count(ids)
    # The check that was running is neither acknowledged nor finished: its message stays
    # unacknowledged in the broker, and its transaction was rolled back with the connection.
    unacked = cluster.broker.hlen("unacked")

    start_worker(processes, "worker-2")
    wait_until_ready(processes, "worker-2")
    recovered_in = wait_for(
        lambda: escalated_count(ids) == count,
        seconds=CATCH_UP_SECONDS,
        what=f"all {count} escalations after the kill",
        logs=cluster.logs,
    )
    cluster.wait_for_more_sweeps("worker-2")

    assert 50 <= done_at_kill < count
    assert unacked == 1
    assert recovered_in < CATCH_UP_SECONDS
    assert_escalated_exactly_once(ids, manager=rep.team.manager)
    assert Escalation.objects.count() == count
    assert Notification.objects.count() == count


@pytest.fixture
def web_on_private_broker(cluster) -> Iterator[None]:  # noqa: ANN001
    """The test process plays the web: its tasks go to the private broker, not run inline."""
    with tasks_sent_to(cluster.broker_url):
        yield


def test_the_web_works_through_a_broker_outage_and_the_sweeps_catch_up_after(
    cluster, rep, manager_alert_only, web_on_private_broker, client
):
    processes = cluster.processes
    manager = rep.team.manager
    other_rep = RepFactory(user__username="bdr2", team=rep.team)
    start_worker(processes, "worker")
    start_beat(processes, "beat")
    wait_until_ready(processes, "worker", "beat")
    # Everything works before the outage.
    before = handoffs_due(rep=rep, policy=manager_alert_only, due=[timezone.now()])
    wait_for(
        lambda: escalated_count(before) == 1,
        seconds=60,
        what="the escalation before the outage",
        logs=cluster.logs,
    )
    far = timezone.now() + timedelta(days=2)
    accepted, reassigned = handoffs_due(rep=rep, policy=manager_alert_only, due=[far, far])

    processes.kill("redis")
    outage_started = time.monotonic()
    # Deadlines that pass while the broker is down, through most of the outage.
    meanwhile = handoffs_due(
        rep=rep,
        policy=manager_alert_only,
        due=[timezone.now() + timedelta(seconds=5 + 2 * n) for n in range(20)],
    )

    # The web keeps serving pages and committing the reps' and managers' work.
    slowest = 0.0
    client.force_login(rep.user)
    for request in (
        lambda: client.get("/login/"),
        lambda: client.get("/queue/"),
        lambda: client.post(f"/handoffs/{accepted}/accept/"),
        lambda: client.post(
            f"/handoffs/{accepted}/attempts/", {"channel": "call", "outcome": "no_answer"}
        ),
    ):
        started = time.monotonic()
        response = request()
        slowest = max(slowest, time.monotonic() - started)
        assert response.status_code in (200, 302)
    client.force_login(manager)
    started = time.monotonic()
    # A reassignment notifies the new rep, by email too: the queueing of that email is the
    # web's one use of the broker, and it fails here.
    response = client.post(
        f"/handoffs/{reassigned}/reassign/",
        {"reason": "Covering a holiday", "to_rep": other_rep.pk},
    )
    slowest = max(slowest, time.monotonic() - started)
    assert response.status_code == 302
    assert Handoff.objects.get(pk=accepted).state == "accepted"
    assert ContactAttempt.objects.filter(handoff_id=accepted).count() == 1
    assert Handoff.objects.get(pk=reassigned).state == "reassigned"
    new_handoff = Handoff.objects.get(previous_id=reassigned)
    assert (new_handoff.rep_id, new_handoff.state) == (other_rep.pk, "assigned")
    assigned_email = Delivery.objects.get(
        notification__recipient=other_rep.user,
        notification__kind="handoff_assigned",
        channel=DeliveryChannel.EMAIL,
    )
    assert assigned_email.status == DeliveryStatus.PENDING

    # Nothing is checked while the broker is down: beat cannot queue a sweep.
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_started)))
    assert escalated_count(meanwhile) == 0
    # The broker comes back on the same port, empty: whatever was queued is gone.
    start_redis_server(processes, "redis-again", port=cluster.port)
    caught_up_in = wait_for(
        lambda: escalated_count(meanwhile) == len(meanwhile),
        seconds=CATCH_UP_SECONDS,
        what="the sweeps to catch up after the outage",
        logs=cluster.logs,
    )
    # The email the web could not queue goes out with the next delivery sweep.
    wait_for(
        lambda: Delivery.objects.get(pk=assigned_email.pk).status == DeliveryStatus.SENT,
        seconds=CATCH_UP_SECONDS,
        what="the delivery sweep to send the reassignment email",
        logs=cluster.logs,
    )
    cluster.wait_for_more_sweeps("worker")

    assert slowest < 5
    assert caught_up_in < CATCH_UP_SECONDS
    assert_escalated_exactly_once(before + meanwhile, manager=manager)
    assert not Escalation.objects.filter(handoff_id__in=[accepted, reassigned]).exists()
    assert Escalation.objects.count() == 1 + len(meanwhile)
    assert Delivery.objects.get(pk=assigned_email.pk).attempts == 1


def test_two_beats_for_five_minutes_escalate_each_handoff_once(cluster, rep, manager_alert_only):
    processes = cluster.processes
    # Two worker processes, so that the sweeps the two beats send can run at the same time.
    start_worker(processes, "worker", concurrency=2)
    start_beat(processes, "beat-a")
    start_beat(processes, "beat-b")
    wait_until_ready(processes, "worker", "beat-a", "beat-b")
    started = time.monotonic()
    start = timezone.now()
    # A deadline every two seconds from the start to the last half-minute of the run.
    count = 135
    due = [start + timedelta(seconds=10 + 2 * n) for n in range(count)]
    ids = handoffs_due(rep=rep, policy=manager_alert_only, due=due)

    wait_for(
        lambda: escalated_count(ids) == count,
        seconds=TWO_BEATS_SECONDS + 30,
        what=f"all {count} escalations",
        logs=cluster.logs,
    )
    time.sleep(max(0.0, TWO_BEATS_SECONDS - (time.monotonic() - started)))
    cluster.wait_for_more_sweeps("worker")

    beats = [processes.log(name).count(BEAT_SENT_SWEEP) for name in ("beat-a", "beat-b")]
    assert min(beats) >= TWO_BEATS_SECONDS * 0.8
    assert cluster.sweeps_done("worker") >= sum(beats) * 0.8
    assert_escalated_exactly_once(ids, manager=rep.team.manager)
    assert Escalation.objects.count() == count
    late = [
        escalation.created_at - escalation.handoff.due_at
        for escalation in Escalation.objects.select_related("handoff")
    ]
    # None before its deadline.
    assert min(late) >= timedelta(0)
