"""The Celery tasks, run eagerly: the SLA sweep that beat starts, and the notification email
through the outbox."""

import logging
from datetime import UTC, datetime, timedelta
from smtplib import SMTPException
from unittest import mock

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from handoff.models import (
    Delivery,
    Escalation,
    EscalationLevel,
    Handoff,
    HandoffEvent,
    Notification,
)
from handoff.services import escalation, handoff_accept, handoff_log_attempt
from handoff.tasks import (
    send_notification_email,
    sweep_notification_deliveries,
    sweep_overdue_handoffs,
)
from leads.services import lead_qualify_if_ready
from leads.tests.factories import LeadFactory
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

# Tuesday 1 December 2026, 10:00 UTC; the rep works 09:00-17:00 UTC, so the default four
# business hours run out at 14:00 the same day.
NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
DUE = datetime(2026, 12, 1, 14, tzinfo=UTC)


@pytest.fixture
def rep():
    return RepFactory(user__username="bdr", team__manager__username="boss")


def handed_off(rep) -> Handoff:  # noqa: ANN001
    """An MQL given to the rep at NOW through the real qualification service."""
    lead = LeadFactory(fit_score=25, engagement_score=50, score=75)
    with time_machine.travel(NOW, tick=False):
        handoff = lead_qualify_if_ready(lead_id=lead.pk)
    assert handoff is not None
    assert (handoff.rep_id, handoff.due_at) == (rep.pk, DUE)
    return handoff


def sweep_at(at: datetime, capture) -> int:  # noqa: ANN001
    """Run the sweep task as beat would, with its after-commit emails sent."""
    with time_machine.travel(at, tick=False), capture(execute=True):
        return sweep_overdue_handoffs.delay().get()


LEVELS_AT_DEADLINE = [
    EscalationLevel.WARNING,
    EscalationLevel.REMIND_REP,
    EscalationLevel.MANAGER_ALERT,
]


def test_sweep_task_takes_every_step_due_at_the_deadline_and_emails_the_manager(
    rep, django_capture_on_commit_callbacks
):
    handoff = handed_off(rep)

    handed_out = sweep_at(DUE, django_capture_on_commit_callbacks)

    assert handed_out == 1
    escalations = list(Escalation.objects.order_by("level"))
    assert [escalation.level for escalation in escalations] == LEVELS_AT_DEADLINE
    assert {escalation.rep for escalation in escalations} == {rep}
    alert = escalations[-1]
    assert alert.notified == rep.team.manager
    assert list(handoff.events.values_list("kind", flat=True)) == [
        "assigned",
        "escalated",
        "escalated",
    ]
    notification = Notification.objects.get(recipient__username="boss")
    assert (notification.kind, notification.key) == ("handoff_escalated", f"escalation:{alert.pk}")
    assert notification.emailed_at == DUE
    boss_mail = [message for message in mail.outbox if message.to == ["boss@example.com"]]
    assert len(boss_mail) == 1
    assert boss_mail[0].subject.startswith("SLA missed: ")
    assert f"/handoffs/{handoff.pk}/" in boss_mail[0].body
    assert sorted(
        Notification.objects.filter(recipient=rep.user).values_list("kind", flat=True)
    ) == ["handoff_assigned", "handoff_overdue"]
    # Next, the chain waits for the reassignment, four business hours after the deadline.
    handoff.refresh_from_db()
    assert handoff.next_check_at == datetime(2026, 12, 2, 10, tzinfo=UTC)


def test_second_sweep_adds_nothing(rep, django_capture_on_commit_callbacks):
    handoff = handed_off(rep)
    sweep_at(DUE, django_capture_on_commit_callbacks)
    sent = len(mail.outbox)

    handed_out = sweep_at(DUE + timedelta(minutes=1), django_capture_on_commit_callbacks)

    assert handed_out == 0
    assert Escalation.objects.count() == 3
    assert handoff.events.filter(kind=HandoffEvent.Kind.ESCALATED).count() == 2
    assert Notification.objects.filter(recipient__username="boss").count() == 1
    assert len(mail.outbox) == sent


def test_warning_before_the_deadline_is_sent_to_the_rep(rep, django_capture_on_commit_callbacks):
    handoff = handed_off(rep)
    # Three quarters of the four business hours: 13:00.
    warning_at = datetime(2026, 12, 1, 13, tzinfo=UTC)

    sweep_at(warning_at, django_capture_on_commit_callbacks)

    warning = Escalation.objects.get()
    assert (warning.level, warning.notified, warning.note) == (
        EscalationLevel.WARNING,
        rep.user,
        "",
    )
    notification = Notification.objects.get(kind="handoff_due_soon")
    assert (notification.recipient, notification.key, notification.title, notification.body) == (
        rep.user,
        f"escalation:{warning.pk}",
        f"Respond soon: {handoff.lead.display_name}",
        "The first response is due Tue 01 Dec 14:00 UTC.",
    )
    assert [message.subject for message in mail.outbox if message.to == [rep.user.email]] == [
        f"Respond soon: {handoff.lead.display_name}",
    ]


def test_warning_reached_after_the_deadline_is_recorded_but_not_sent(
    rep, django_capture_on_commit_callbacks
):
    handoff = handed_off(rep)
    # The first sweep comes an hour after the deadline, as after downtime.
    late = DUE + timedelta(hours=1)

    sweep_at(late, django_capture_on_commit_callbacks)

    warning = Escalation.objects.get(level=EscalationLevel.WARNING)
    assert (warning.notified, warning.note) == (
        None,
        "warning skipped: the deadline had already passed",
    )
    assert list(
        Notification.objects.filter(recipient=rep.user)
        .exclude(kind="handoff_assigned")
        .values_list("kind", "key")
    ) == [("handoff_overdue", f"escalation:{warning.pk + 1}")]
    assert [message.subject for message in mail.outbox if message.to == [rep.user.email]] == [
        f"Overdue: {handoff.lead.display_name} is waiting for your first response",
    ]
    # The skipped warning writes no history event; the two deadline steps do.
    assert list(handoff.events.values_list("kind", "note")) == [
        ("assigned", "first response due within 4 business hours"),
        ("escalated", "first-response deadline missed; rep reminded"),
        ("escalated", "first-response deadline missed; manager alerted"),
    ]
    escalations = Escalation.objects.count()
    notifications = Notification.objects.count()
    sent = len(mail.outbox)

    handed_out = sweep_at(late + timedelta(minutes=1), django_capture_on_commit_callbacks)

    assert handed_out == 0
    assert (Escalation.objects.count(), Notification.objects.count(), len(mail.outbox)) == (
        escalations,
        notifications,
        sent,
    )


def test_every_deadline_message_shows_the_rep_s_local_time(django_capture_on_commit_callbacks):
    rep = RepFactory(user__username="sg", timezone="Asia/Singapore", team__manager__username="boss")
    lead = LeadFactory(fit_score=25, engagement_score=50, score=75)
    # 18:00 in Singapore, after hours: the four business hours run 09:00-13:00 next day.
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        handoff = lead_qualify_if_ready(lead_id=lead.pk)
    assert handoff.due_at == datetime(2026, 12, 2, 5, tzinfo=UTC)

    sweep_at(datetime(2026, 12, 2, 4, tzinfo=UTC), django_capture_on_commit_callbacks)
    sweep_at(handoff.due_at, django_capture_on_commit_callbacks)

    assert list(
        Notification.objects.order_by("pk").values_list("recipient__username", "kind", "body")
    ) == [
        ("sg", "handoff_assigned", "Respond by Wed 02 Dec 13:00 +08."),
        ("sg", "handoff_due_soon", "The first response is due Wed 02 Dec 13:00 +08."),
        ("sg", "handoff_overdue", "It was due Wed 02 Dec 13:00 +08."),
        (
            "boss",
            "handoff_escalated",
            f"The first response was due Wed 02 Dec 13:00 +08, {rep}'s local time.",
        ),
    ]
    assert [message.body.split("\n")[0] for message in mail.outbox] == [
        "Respond by Wed 02 Dec 13:00 +08.",
        "The first response is due Wed 02 Dec 13:00 +08.",
        "It was due Wed 02 Dec 13:00 +08.",
        f"The first response was due Wed 02 Dec 13:00 +08, {rep}'s local time.",
    ]


def test_a_handoff_handed_to_a_lost_check_comes_due_again_when_the_lease_ends(rep):
    # The batch goes to a check that never runs, as when its worker is killed.
    handoff = handed_off(rep)
    lost: list[list[int]] = []
    lease = timedelta(seconds=settings.SLA_CHECK_LEASE_SECONDS)

    first = escalation.handoffs_sla_sweep(now=DUE, check=lost.append)
    within_lease = escalation.handoffs_sla_sweep(now=DUE + lease / 2, check=lost.append)
    after_lease = escalation.handoffs_sla_sweep(now=DUE + lease, check=lost.append)

    assert (first, within_lease, after_lease) == (1, 0, 1)
    assert lost == [[handoff.pk], [handoff.pk]]
    handoff.refresh_from_db()
    assert handoff.next_check_at == DUE + 2 * lease
    assert not Escalation.objects.exists()


def test_sweep_before_the_warning_leaves_the_handoff_untouched(
    rep, django_capture_on_commit_callbacks
):
    handoff = handed_off(rep)
    # 75% of the four-hour budget is used at 13:00.
    assert handoff.next_check_at == datetime(2026, 12, 1, 13, tzinfo=UTC)

    handed_out = sweep_at(
        handoff.next_check_at - timedelta(seconds=1), django_capture_on_commit_callbacks
    )

    assert handed_out == 0
    assert Escalation.objects.count() == 0
    assert list(handoff.events.values_list("kind", flat=True)) == ["assigned"]
    assert Notification.objects.filter(recipient__username="boss").count() == 0
    assert mail.outbox == []


def test_sweep_leaves_a_handoff_with_a_first_response_untouched(
    rep, django_capture_on_commit_callbacks
):
    handoff = handed_off(rep)
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        handoff_log_attempt(
            handoff_id=handoff.pk, actor=rep.user, channel="call", outcome="no_answer"
        )

    handed_out = sweep_at(DUE + timedelta(hours=1), django_capture_on_commit_callbacks)

    assert handed_out == 0
    assert Escalation.objects.count() == 0
    assert list(handoff.events.values_list("kind", flat=True)) == ["assigned", "attempt"]
    assert Notification.objects.filter(recipient__username="boss").count() == 0
    # The engine now watches the cadence: three attempts by the close of the fifth working day.
    handoff.refresh_from_db()
    assert handoff.next_check_at == datetime(2026, 12, 7, 17, tzinfo=UTC)


def test_sweep_escalates_an_accepted_handoff_with_no_contact_attempt(
    rep, django_capture_on_commit_callbacks
):
    # Accepting says the rep saw the lead; only a contact attempt answers it.
    handoff = handed_off(rep)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        handoff_accept(handoff_id=handoff.pk, actor=rep.user)

    handed_out = sweep_at(DUE, django_capture_on_commit_callbacks)

    assert handed_out == 1
    assert list(handoff.events.values_list("kind", flat=True)) == [
        "assigned",
        "accepted",
        "escalated",
        "escalated",
    ]


def test_sweep_after_downtime_takes_every_step_once_and_returns_the_leads(
    rep, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr(escalation, "SWEEP_BATCH_SIZE", 2)
    handoffs = [handed_off(rep) for _ in range(5)]

    first = sweep_at(DUE + timedelta(days=3), django_capture_on_commit_callbacks)
    second = sweep_at(DUE + timedelta(days=3, minutes=1), django_capture_on_commit_callbacks)

    assert (first, second) == (5, 0)
    for handoff in handoffs:
        handoff.refresh_from_db()
        # Nobody else could take the leads, so the chain went on to return them.
        assert list(handoff.escalations.order_by("level").values_list("level", "note")) == [
            (EscalationLevel.WARNING, "warning skipped: the deadline had already passed"),
            (EscalationLevel.REMIND_REP, ""),
            (EscalationLevel.MANAGER_ALERT, ""),
            (EscalationLevel.REASSIGN, "nobody else was eligible"),
            (EscalationLevel.RETURN_TO_MARKETING, ""),
        ]
        assert (handoff.state, handoff.next_check_at) == ("returned", None)
        assert handoff.lead.stage == "recycled"
        assert handoff.rejection.reason.code == "no-response"
    boss_mail = [message for message in mail.outbox if message.to == ["boss@example.com"]]
    assert len(boss_mail) == 10
    # The warnings were four days late: the rep hears only that each lead is overdue.
    assert (
        sorted(Notification.objects.filter(recipient=rep.user).values_list("kind", flat=True))
        == ["handoff_assigned"] * 5 + ["handoff_overdue"] * 5
    )


def test_email_task_sends_once_when_called_twice(caplog):
    user = UserFactory(username="manager")
    notification = Notification.objects.create(
        recipient=user, kind="handoff_escalated", key="escalation:1", title="SLA missed", url="/x/"
    )
    caplog.set_level(logging.INFO, logger="handoff.delivery")

    with time_machine.travel(NOW, tick=False):
        first = send_notification_email.delay(notification.pk).get()
        second = send_notification_email.delay(notification.pk).get()

    assert (first, second) == (True, False)
    notification.refresh_from_db()
    assert notification.emailed_at == NOW
    # The email goes through the outbox: one delivery row, sent on the first attempt.
    delivery = Delivery.objects.get(notification=notification)
    assert (delivery.channel, delivery.status, delivery.attempts, delivery.sent_at) == (
        "email",
        "sent",
        1,
        NOW,
    )
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["manager@example.com"]
    assert mail.outbox[0].body == f"\n\n{settings.SITE_URL}/x/"
    # The elapsed time varies; the rest of each line is fixed.
    assert [
        (record.levelname, record.getMessage().partition(" elapsed_ms=")[0])
        for record in caplog.records
        if record.name == "handoff.delivery"
    ] == [
        (
            "INFO",
            f"delivery sent delivery_id={delivery.pk} notification_id={notification.pk} "
            "channel=email attempt=1",
        ),
        ("WARNING", f"delivery not due or already taken delivery_id={delivery.pk}"),
    ]


def test_email_task_records_the_failure_and_the_sweep_sends_it_after_the_backoff():
    user = UserFactory(username="manager")
    notification = Notification.objects.create(
        recipient=user, kind="handoff_escalated", key="escalation:1", title="SLA missed"
    )

    with (
        time_machine.travel(NOW, tick=False),
        mock.patch("handoff.delivery.send_mail", side_effect=SMTPException("down")) as send,
    ):
        sent = send_notification_email.delay(notification.pk).get()

    # The outbox keeps the email, due again a minute later, and says why it failed.
    assert (sent, send.call_count) == (False, 1)
    delivery = Delivery.objects.get(notification=notification)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at, delivery.last_error) == (
        "pending",
        1,
        NOW + timedelta(minutes=1),
        "SMTPException",
    )
    notification.refresh_from_db()
    assert notification.emailed_at is None
    assert mail.outbox == []

    with time_machine.travel(NOW + timedelta(seconds=59), tick=False):
        assert sweep_notification_deliveries.delay().get() == 0
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert sweep_notification_deliveries.delay().get() == 1
        assert sweep_notification_deliveries.delay().get() == 0
    assert len(mail.outbox) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)


def test_task_names_are_fixed_and_beat_schedules_the_sweep():
    assert sweep_overdue_handoffs.name == "handoff.sweep_overdue_handoffs"
    assert send_notification_email.name == "handoff.send_notification_email"
    assert sweep_notification_deliveries.name == "handoff.sweep_notification_deliveries"
    assert (
        settings.CELERY_BEAT_SCHEDULE["notification-delivery-sweep"]["task"]
        == sweep_notification_deliveries.name
    )
    assert settings.CELERY_BEAT_SCHEDULE["sla-sweep"]["task"] == sweep_overdue_handoffs.name
