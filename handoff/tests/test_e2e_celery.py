"""A real Celery worker and beat, on PostgreSQL and Redis, escalate a missed deadline once.

The worker and beat run as separate processes against the test database, exactly as in
production but with the sweep every second. The test data is committed (transaction=True) so
that they can see it.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from handoff.models import (
    Escalation,
    EscalationLevel,
    Handoff,
    HandoffEvent,
    Notification,
    SlaPolicy,
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
STARTUP_SECONDS = 60
ESCALATION_SECONDS = 60
EXTRA_SWEEPS = 4
SWEEP_LOG_LINE = "sla sweep done"


def _database_url() -> str:
    """The test database as a URL, for processes that read DATABASE_URL."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return (
        f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
        f"{quote(db['NAME'], safe='')}"
    )


def _redis_url() -> str:
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit(parts._replace(path=f"/{E2E_REDIS_DB}"))


def _wait_for(
    condition: Callable[[], bool], *, seconds: float, what: str, logs: list[Path]
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}\n{tails}")


@pytest.fixture
def celery_processes(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Start a worker and a beat; yield their log files; always stop both."""
    broker = redis.Redis.from_url(_redis_url())
    broker.flushdb()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "handoff.settings.local",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": _redis_url(),
        "HANDOFF_SLA_SWEEP_SECONDS": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "PYTHONUNBUFFERED": "1",
    }
    celery = [sys.executable, "-m", "celery", "-A", "handoff"]
    commands = {
        "worker": [
            *celery,
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=e2e-{os.getpid()}@%h",
        ],
        "beat": [*celery, "beat", "--loglevel=INFO", f"--schedule={tmp_path / 'beat-schedule'}"],
    }
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    processes: list[subprocess.Popen] = []
    try:
        for name, command in commands.items():
            with logs[name].open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=settings.BASE_DIR,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
        _wait_for(
            lambda: (
                "ready." in logs["worker"].read_text()
                and "beat: Starting..." in logs["beat"].read_text()
            ),
            seconds=STARTUP_SECONDS,
            what="the worker and beat to start",
            logs=list(logs.values()),
        )
        yield logs
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
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

    _wait_for(
        lambda: Escalation.objects.filter(handoff=handoff).exists(),
        seconds=ESCALATION_SECONDS,
        what="the escalation",
        logs=logs,
    )
    # Let beat sweep several more times: none of those sweeps may add anything.
    sweeps_at_escalation = worker_log.read_text().count(SWEEP_LOG_LINE)
    _wait_for(
        lambda: worker_log.read_text().count(SWEEP_LOG_LINE) >= sweeps_at_escalation + EXTRA_SWEEPS,
        seconds=ESCALATION_SECONDS,
        what=f"{EXTRA_SWEEPS} more sweeps",
        logs=logs,
    )
    _wait_for(
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
