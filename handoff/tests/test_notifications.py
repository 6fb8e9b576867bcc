"""The notification outbox: a delivery row per wanted channel, sent once after commit, retried
with backoff, given up after bounded attempts, and swept again when a worker dies."""

import logging
from datetime import UTC, datetime, timedelta
from smtplib import SMTPException, SMTPRecipientsRefused
from unittest import mock

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import transaction
from django.urls import reverse
from kombu.exceptions import OperationalError

from handoff import roles
from handoff.delivery import (
    CLAIM_LEASE,
    MAX_ATTEMPTS,
    deliveries_due,
    retry_delay,
    slack_webhook_for,
)
from handoff.models import Delivery, Notification, NotificationPreference
from handoff.notifications import (
    NOTIFICATION_KINDS,
    UNKNOWN_KIND,
    notification_create,
    notification_kinds_for,
    notification_preferences_for,
    notification_preferences_from_form,
    notification_preferences_set,
)
from handoff.tasks import deliver_notification, send_notification_email
from handoff.tasks import sweep_notification_deliveries as sweep
from reps.tests.factories import RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
TEAM_HOOK = "https://hooks.slack.example/services/team"
REP_HOOK = "https://hooks.slack.example/services/rep"


@pytest.fixture
def rep():
    return RepFactory(user__username="bdr", team=TeamFactory(slack_webhook_url=TEAM_HOOK))


def notify(user, *, kind: str = "handoff_assigned", key: str = "k:1"):  # noqa: ANN001,ANN201
    return notification_create(
        recipient=user, kind=kind, key=key, title="New lead: Jane Doe", body="Respond by 14:00.",
        url="/handoffs/7/",
    )  # fmt: skip


def rows(notification: Notification) -> list[tuple]:
    return list(
        notification.deliveries.order_by("channel").values_list(
            "channel", "status", "attempts", "next_attempt_at", "sent_at"
        )
    )


def test_a_notification_writes_a_delivery_per_channel_and_queues_them_after_commit(
    rep, django_capture_on_commit_callbacks
):
    with (
        time_machine.travel(NOW, tick=False),
        mock.patch.object(deliver_notification, "delay") as delay,
    ):
        with django_capture_on_commit_callbacks() as callbacks:
            notification = notify(rep.user)
        # Nothing is queued while the transaction is open.
        assert delay.call_count == 0
        for callback in callbacks:
            callback()

    # In-app is the row itself, delivered at once; email and Slack wait for a worker.
    assert rows(notification) == [
        ("email", "pending", 0, NOW, None),
        ("in_app", "sent", 1, None, NOW),
        ("slack", "pending", 0, NOW, None),
    ]
    assert notification.read_at is None
    queued = [call.args[0] for call in delay.call_args_list]
    assert queued == list(
        notification.deliveries.filter(channel__in=["email", "slack"])
        .order_by("channel")
        .values_list("pk", flat=True)
    )
    assert mail.outbox == []


def test_no_email_row_without_an_address_and_no_slack_row_without_a_webhook():
    manager = UserFactory(username="boss", email="")

    with time_machine.travel(NOW, tick=False):
        notification = notify(manager)

    assert rows(notification) == [("in_app", "sent", 1, None, NOW)]


def test_the_rep_webhook_wins_over_the_team_and_a_non_rep_has_none(rep):
    assert slack_webhook_for(user=rep.user) == TEAM_HOOK
    rep.slack_webhook_url = REP_HOOK
    rep.save(update_fields=["slack_webhook_url"])
    assert slack_webhook_for(user=rep.user) == REP_HOOK
    assert slack_webhook_for(user=UserFactory()) == ""
    assert slack_webhook_for(user=RepFactory(team=None).user) == ""


def test_turned_off_channels_get_no_row_and_in_app_off_raises_no_badge(rep):
    notification_preferences_set(
        user=rep.user,
        choices={("routing_exhausted", "email"): False, ("routing_exhausted", "in_app"): False},
    )

    with time_machine.travel(NOW, tick=False):
        waiting = notify(rep.user, kind="routing_exhausted", key="k:1")
        overdue = notify(rep.user, kind="handoff_overdue", key="k:2")

    assert [row[0] for row in rows(waiting)] == ["slack"]
    # The record stays, read already, so the bell does not count it.
    assert waiting.read_at == NOW
    assert [row[0] for row in rows(overdue)] == ["email", "in_app", "slack"]
    assert overdue.read_at is None


def test_the_sla_alerts_cannot_be_turned_off_in_the_app(rep):
    with pytest.raises(ValueError, match="'A lead is assigned to you' stays on in the app"):
        notification_preferences_set(
            user=rep.user,
            choices={("handoff_assigned", "email"): False, ("handoff_assigned", "in_app"): False},
        )

    assert NotificationPreference.objects.count() == 0


def test_a_form_with_every_box_unticked_keeps_the_sla_alerts_in_the_app(rep):
    kinds = notification_kinds_for(user=rep.user)
    choices = notification_preferences_from_form(kinds=kinds, checked=[])

    notification_preferences_set(user=rep.user, choices=choices)
    with time_machine.travel(NOW, tick=False):
        overdue = notify(rep.user, kind="handoff_overdue", key="k:1")

    assert [row[0] for row in rows(overdue)] == ["in_app"]
    assert overdue.read_at is None


def test_a_rolled_back_change_writes_and_queues_nothing(rep, django_capture_on_commit_callbacks):
    def failing_change() -> None:
        with transaction.atomic():
            notify(rep.user)
            raise RuntimeError("the change failed")

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError, match="the change failed"),
    ):
        failing_change()

    assert callbacks == []
    assert Notification.objects.count() == 0
    assert Delivery.objects.count() == 0
    assert mail.outbox == []


def test_a_repeated_key_writes_no_second_delivery(django_capture_on_commit_callbacks):
    rep = RepFactory(user__username="bdr")
    with django_capture_on_commit_callbacks(execute=True):
        first = notify(rep.user)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = notify(rep.user)

    assert (first is not None, second) == (True, None)
    assert callbacks == []
    assert Delivery.objects.count() == 2
    assert len(mail.outbox) == 1


def test_the_email_goes_once_however_often_its_task_runs(django_capture_on_commit_callbacks):
    rep = RepFactory(user__username="bdr")
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        notification = notify(rep.user)
    email = notification.deliveries.get(channel="email")

    again = [deliver_notification.delay(email.pk).get() for _ in range(3)]

    assert again == [False, False, False]
    assert sweep.delay().get() == 0
    assert [message.to for message in mail.outbox] == [["bdr@example.com"]]
    assert mail.outbox[0].subject == "New lead: Jane Doe"
    email.refresh_from_db()
    assert (email.status, email.attempts, email.sent_at) == ("sent", 1, NOW)
    notification.refresh_from_db()
    assert notification.emailed_at == NOW


def test_a_broker_down_at_commit_loses_nothing_and_the_sweep_sends_it(
    django_capture_on_commit_callbacks, caplog
):
    user = UserFactory(username="boss")
    down = OperationalError("broker unreachable")

    with (
        time_machine.travel(NOW, tick=False),
        mock.patch.object(deliver_notification, "delay", side_effect=down) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        notification = notify(user)

    # The change committed; the failed enqueue is logged, and the row waits for the sweep.
    assert delay.call_count == 1
    assert [record.levelname for record in caplog.records if "on_commit" in record.msg] == ["ERROR"]
    assert rows(notification) == [
        ("email", "pending", 0, NOW, None),
        ("in_app", "sent", 1, None, NOW),
    ]
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert sweep.delay().get() == 1
    assert [message.to for message in mail.outbox] == [["boss@example.com"]]


def test_backoff_doubles_from_a_minute_up_to_an_hour():
    assert [retry_delay(attempts=n) for n in range(1, MAX_ATTEMPTS + 1)] == [
        timedelta(minutes=minutes) for minutes in (1, 2, 4, 8, 16, 32, 60, 60)
    ]


def test_after_eight_failures_the_delivery_is_failed_and_no_longer_swept():
    user = UserFactory(username="boss")
    with time_machine.travel(NOW, tick=False):
        notification = notify(user)
    email = notification.deliveries.get(channel="email")
    tried_at = []

    with mock.patch("handoff.delivery.send_mail", side_effect=SMTPException("down")) as send:
        at = NOW
        while True:
            with time_machine.travel(at, tick=False):
                sweep.delay().get()
            tried_at.append(at)
            email.refresh_from_db()
            if email.status != "pending":
                break
            at = email.next_attempt_at
        with time_machine.travel(at + timedelta(days=1), tick=False):
            assert sweep.delay().get() == 0

    minutes = [int((moment - NOW).total_seconds() // 60) for moment in tried_at]
    assert minutes == [0, 1, 3, 7, 15, 31, 63, 123]
    assert send.call_count == MAX_ATTEMPTS
    assert (email.status, email.attempts, email.next_attempt_at, email.last_error) == (
        "failed",
        MAX_ATTEMPTS,
        None,
        "SMTPException",
    )
    assert mail.outbox == []


def test_a_failure_is_logged_and_recorded_without_personal_data(caplog):
    user = UserFactory(username="boss", email="boss@example.com")
    notification = notify(user)
    email = notification.deliveries.get(channel="email")
    refused = SMTPRecipientsRefused({"boss@example.com": (550, b"no mailbox boss@example.com")})
    caplog.set_level(logging.DEBUG)

    with mock.patch("handoff.delivery.send_mail", side_effect=refused):
        assert deliver_notification.delay(email.pk).get() is False

    email.refresh_from_db()
    assert (email.status, email.attempts, email.last_error) == (
        "pending",
        1,
        "SMTPRecipientsRefused",
    )
    assert [
        record.getMessage() for record in caplog.records if record.name == "handoff.delivery"
    ] == [
        f"delivery failed, will retry delivery_id={email.pk} channel=email attempts=1 "
        "error=SMTPRecipientsRefused"
    ]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "example.com" not in logged
    assert "Jane Doe" not in logged


def test_a_claim_past_its_lease_is_swept_and_sent_once():
    user = UserFactory(username="boss")
    notification = notify(user)
    email = notification.deliveries.get(channel="email")
    # A worker claimed the row at NOW and died before sending.
    Delivery.objects.filter(pk=email.pk).update(status="sending", claimed_at=NOW, attempts=1)

    with time_machine.travel(NOW + CLAIM_LEASE, tick=False):
        assert sweep.delay().get() == 0
        assert deliver_notification.delay(email.pk).get() is False
    assert mail.outbox == []
    with time_machine.travel(NOW + CLAIM_LEASE + timedelta(seconds=1), tick=False):
        assert sweep.delay().get() == 1
        assert sweep.delay().get() == 0

    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert (email.status, email.attempts, email.sent_at) == (
        "sent",
        2,
        NOW + CLAIM_LEASE + timedelta(seconds=1),
    )


def test_the_sweep_takes_due_deliveries_oldest_first_up_to_its_limit():
    user = UserFactory(username="boss")
    ids = []
    for minute in (3, 1, 2, 9):
        with time_machine.travel(NOW + timedelta(minutes=minute), tick=False):
            ids.append(notify(user, key=f"k:{minute}").deliveries.get(channel="email").pk)
    stalled = ids[3]
    Delivery.objects.filter(pk=stalled).update(status="sending", claimed_at=NOW - CLAIM_LEASE)

    due = deliveries_due(now=NOW + timedelta(minutes=3), limit=10)
    limited = deliveries_due(now=NOW + timedelta(minutes=3), limit=2)

    assert due == [ids[1], ids[2], ids[0], stalled]
    assert limited == [ids[1], ids[2]]


def test_the_old_email_task_writes_no_row_for_a_user_who_turned_email_off():
    user = UserFactory(username="boss")
    notification = Notification.objects.create(
        recipient=user, kind="handoff_escalated", key="escalation:1", title="SLA missed"
    )
    notification_preferences_set(user=user, choices={("handoff_escalated", "email"): False})

    assert send_notification_email.delay(notification.pk).get() is False

    assert Delivery.objects.count() == 0
    assert mail.outbox == []


def test_preferences_default_to_on_and_refuse_an_unknown_kind_whole():
    user = UserFactory(username="boss")
    before = notification_preferences_for(user=user)

    with pytest.raises(ValueError, match="'made_up' is not a notification kind") as refused:
        notification_preferences_set(
            user=user,
            choices={("handoff_assigned", "email"): False, ("made_up", "email"): False},
        )

    assert str(refused.value) == UNKNOWN_KIND.format(
        kind="made_up", known=", ".join(NOTIFICATION_KINDS)
    )
    assert len(before) == len(NOTIFICATION_KINDS) * 3
    assert set(before.values()) == {True}
    assert NotificationPreference.objects.count() == 0


# The preferences page.


def test_the_preferences_page_needs_a_login(client):
    response = client.get("/notifications/preferences/")

    assert (response.status_code, response.url) == (302, "/login/?next=/notifications/preferences/")


def test_the_preferences_page_saves_each_users_channels(
    client, rep, django_capture_on_commit_callbacks
):
    client.force_login(rep.user)
    everything_but_assigned_email = [
        f"{kind}:{channel}"
        for kind in NOTIFICATION_KINDS
        for channel in ("in_app", "email", "slack")
        if (kind, channel) != ("handoff_assigned", "email")
    ]

    shown = client.get(reverse("notification-preferences"))
    saved = client.post(
        reverse("notification-preferences"),
        {"on": [*everything_but_assigned_email, "x:email"]},
        follow=True,
    )
    again = client.post(
        reverse("notification-preferences"), {"on": everything_but_assigned_email}, follow=True
    )

    assert shown.status_code == 200
    assert shown.content.decode().count('type="checkbox"') == len(NOTIFICATION_KINDS) * 3
    assert saved.redirect_chain == [("/notifications/preferences/", 302)]
    assert [str(message) for message in saved.context["messages"]] == [
        "Saved: 1 change to your notifications."
    ]
    assert [str(message) for message in again.context["messages"]] == [
        "Saved: 0 changes to your notifications."
    ]
    assert list(
        NotificationPreference.objects.values_list("user", "kind", "channel", "enabled")
    ) == [(rep.user.pk, "handoff_assigned", "email", False)]
    page = client.get(reverse("notification-preferences")).content.decode()
    assert 'value="handoff_assigned:email" id="pref-handoff_assigned:email" aria' in page
    assert 'value="handoff_assigned:slack" id="pref-handoff_assigned:slack" checked' in page
    with django_capture_on_commit_callbacks(execute=False):
        notification = notify(rep.user)
    assert [row[0] for row in rows(notification)] == ["in_app", "slack"]


# The admin's outbox.


@pytest.fixture
def revops_client(client):
    revops = UserFactory(username="revops", is_staff=True, roles=[roles.REVOPS])
    revops.groups.get().permissions.add(
        *Permission.objects.filter(content_type__app_label="handoff")
    )
    client.force_login(revops)
    return client


def test_revops_sees_the_outbox_with_status_attempts_and_last_error(revops_client):
    user = UserFactory(username="boss")
    notification = notify(user)
    with mock.patch("handoff.delivery.send_mail", side_effect=SMTPException("down")):
        deliver_notification.delay(notification.deliveries.get(channel="email").pk)

    response = revops_client.get("/admin/handoff/delivery/?status=pending")

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [
        notification.deliveries.get(channel="email")
    ]
    assert "SMTPException" in response.content.decode()


def test_retry_now_sends_a_failed_delivery_and_never_resends_a_sent_one(
    revops_client, django_capture_on_commit_callbacks
):
    user = UserFactory(username="boss")
    with time_machine.travel(NOW, tick=False):
        failed = notify(user, key="k:1").deliveries.get(channel="email")
        sent = notify(user, key="k:2").deliveries.get(channel="email")
        deliver_notification.delay(sent.pk)
    Delivery.objects.filter(pk=failed.pk).update(
        status="failed", attempts=MAX_ATTEMPTS, last_error="SMTPException"
    )
    assert len(mail.outbox) == 1

    with (
        time_machine.travel(NOW + timedelta(days=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = revops_client.post(
            "/admin/handoff/delivery/",
            {"action": "retry_now", "_selected_action": [failed.pk, sent.pk]},
            follow=True,
        )

    assert [str(message) for message in response.context["messages"]] == [
        "1 of 2 deliveries queued to send now; the others were already sent or being sent."
    ]
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.status, failed.attempts, failed.sent_at) == (
        "sent",
        MAX_ATTEMPTS + 1,
        NOW + timedelta(days=1),
    )
    assert (sent.status, sent.attempts, sent.sent_at) == ("sent", 1, NOW)
    assert len(mail.outbox) == 2


def test_a_user_without_the_permission_cannot_retry(client, django_capture_on_commit_callbacks):
    marketing = UserFactory(username="marketing", is_staff=True, roles=[roles.MARKETING])
    client.force_login(marketing)
    user = UserFactory(username="boss")
    delivery = notify(user).deliveries.get(channel="email")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/handoff/delivery/",
            {"action": "retry_now", "_selected_action": [delivery.pk]},
        )

    assert response.status_code == 403
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert mail.outbox == []
