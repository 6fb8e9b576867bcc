"""A real Celery worker and beat, on PostgreSQL and Redis, escalate a missed deadline once.

The worker and beat run as separate processes against the test database, exactly as in
production but with the sweep every second. The test data is committed (transaction=True) so
that they can see it.
"""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from handoff.models import (
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
    redis_url,
    start_beat,
    start_worker,
    wait_for,
    wait_until_ready,
)
from leads.services import lead_qualify_if_ready
from leads.tests.factories import LeadFactory
from reps.tests.factories import RepFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# A Redis database of its own, so that nothing else's queued tasks reach this worker and the
# test can empty it freely.
E2E_REDIS_DB = 14
ESCALATION_SECONDS = 60
EXTRA_SWEEPS = 4


@pytest.fixture
def celery_processes(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Start a worker and a beat; yield their log files; always stop both."""
    broker_url = redis_url(db=E2E_REDIS_DB)
    broker = redis.Redis.from_url(broker_url)
    broker.flushdb()
    processes = Processes(folder=tmp_path, env=celery_env(broker_url=broker_url, folder=tmp_path))
    try:
        start_worker(processes, "worker")
        start_beat(processes, "beat")
        wait_until_ready(processes, "worker", "beat")
        yield processes.logs
    finally:
        processes.stop_all()
        broker.flushdb()
        broker.close()


def test_real_beat_and_worker_escalate_a_missed_deadline_exactly_once(celery_processes):
    logs = list(celery_processes.values())
    worker_log = celery_processes["worker"]
    rep = RepFactory(user__username="bdr", team__manager__username="boss")
    manager = rep.team.manager
    lead = LeadFactory(fit_score=25, engagement_score=50, score=75)
    handoff = lead_qualify_if_ready(lead_id=lead.pk)
    assert handoff is not None
    # The deadline is business hours away; bring it to a few seconds from now. `state` is the
    # protected field, the deadline is a plain one. The policy keeps only the manager alert
    # at the deadline, so that the rep's working hours when the test runs do not matter.
    alert_only = SlaPolicy.objects.create(
        name="Alert only",
        warning_percent=0,
        remind_rep_after_hours=None,
        reassign_after_hours=None,
        return_after_hours=None,
    )
    due_at = timezone.now() + timedelta(seconds=3)
    Handoff.objects.filter(pk=handoff.pk).update(
        due_at=due_at, next_check_at=due_at, policy=alert_only
    )

    wait_for(
        lambda: Escalation.objects.filter(handoff=handoff).exists(),
        seconds=ESCALATION_SECONDS,
        what="the escalation",
        logs=logs,
    )
    # Let beat sweep several more times: none of those sweeps may add anything.
    sweeps_at_escalation = worker_log.read_text().count(SWEEP_LOG_LINE)
    wait_for(
        lambda: worker_log.read_text().count(SWEEP_LOG_LINE) >= sweeps_at_escalation + EXTRA_SWEEPS,
        seconds=ESCALATION_SECONDS,
        what=f"{EXTRA_SWEEPS} more sweeps",
        logs=logs,
    )
    wait_for(
        lambda: Notification.objects.filter(recipient=manager, emailed_at__isnull=False).exists(),
        seconds=ESCALATION_SECONDS,
        what="the escalation email",
        logs=logs,
    )

    escalation = Escalation.objects.get()
    assert (escalation.handoff_id, escalation.level, escalation.rep_id) == (
        handoff.pk,
        EscalationLevel.MANAGER_ALERT,
        rep.pk,
    )
    assert escalation.notified_id == manager.pk
    assert escalation.created_at >= due_at
    assert HandoffEvent.objects.filter(kind=HandoffEvent.Kind.ESCALATED).count() == 1
    notification = Notification.objects.get(recipient=manager)
    assert (notification.kind, notification.key) == (
        "handoff_escalated",
        f"escalation:{escalation.pk}",
    )
    assert notification.emailed_at >= escalation.created_at
    mails = [path.read_text() for path in (celery_processes["worker"].parent / "mail").iterdir()]
    assert len(mails) == 1
    assert "To: boss@example.com" in mails[0]
    assert "Subject: SLA missed: " in mails[0]
    assert f"/handoffs/{handoff.pk}/" in mails[0]
