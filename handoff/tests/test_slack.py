"""Slack deliveries against a real HTTP server on 127.0.0.1: one message per notification, none
lost while Slack is down, and each sent exactly once when it is back."""

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from handoff.delivery import slack_text
from handoff.models import Delivery, Notification
from handoff.notifications import notification_create
from handoff.tasks import deliver_notification
from handoff.tasks import sweep_notification_deliveries as sweep
from reps.tests.factories import RepFactory, TeamFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)


class FakeSlack:
    """An incoming-webhook endpoint that records every message it is sent. It can be stopped
    and started again on the same port, as Slack going down and coming back."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict]] = []
        self.status = 200
        self.port = 0
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        slack = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                slack.received.append((self.path, json.loads(body)))
                self.send_response(slack.status)
                self.end_headers()
                self.wfile.write(b"ok" if slack.status == 200 else b"error")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = HTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def texts(self) -> list[tuple[str, str]]:
        return [(path, payload["text"]) for path, payload in self.received]


@pytest.fixture
def slack():
    server = FakeSlack()
    server.start()
    yield server
    server.stop()


def notify(user, key: str, title: str = "New lead: Jane Doe"):  # noqa: ANN001,ANN201
    return notification_create(
        recipient=user, kind="handoff_assigned", key=key, title=title, url=f"/handoffs/{key}/"
    )


def slack_row(notification: Notification) -> Delivery:
    return notification.deliveries.get(channel="slack")


def test_a_slack_delivery_arrives_once(slack, django_capture_on_commit_callbacks):
    rep = RepFactory(user__username="bdr", slack_webhook_url=slack.url("/rep"))

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        notification = notify(rep.user, "1")
    delivery = slack_row(notification)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        repeated = deliver_notification.delay(delivery.pk).get()
        swept = sweep.delay().get()

    assert (repeated, swept) == (False, 0)
    assert slack.texts() == [
        ("/rep", f"*New lead: Jane Doe*\n<{settings.SITE_URL}/handoffs/1/|Open in Handoff>")
    ]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.sent_at, delivery.last_error) == (
        "sent",
        1,
        NOW,
        "",
    )
    # Email is a channel of its own, sent alongside.
    assert [message.to for message in mail.outbox] == [["bdr@example.com"]]


def test_with_slack_down_nothing_is_lost_and_each_message_goes_once_when_it_is_back(
    slack, django_capture_on_commit_callbacks
):
    team = TeamFactory(slack_webhook_url=slack.url("/team"))
    own = RepFactory(user__username="own", team=team, slack_webhook_url=slack.url("/own"))
    shared = RepFactory(user__username="shared", team=team)
    slack.stop()

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        notifications = [
            notify(own.user, "1", "First"),
            notify(shared.user, "2", "Second"),
            notify(shared.user, "3", "Third"),
        ]

    # Every message is kept, due again in a minute, with the reason; the emails went out.
    for notification in notifications:
        delivery = slack_row(notification)
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
            "pending",
            1,
            NOW + timedelta(minutes=1),
        )
        assert delivery.last_error == "Slack unreachable: ConnectionRefusedError"
    assert len(mail.outbox) == 3

    # Still down at the first retry: the next one waits twice as long.
    with time_machine.travel(NOW + timedelta(seconds=59), tick=False):
        assert sweep.delay().get() == 0
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert sweep.delay().get() == 3
    assert {
        (slack_row(n).status, slack_row(n).attempts, slack_row(n).next_attempt_at)
        for n in notifications
    } == {("pending", 2, NOW + timedelta(minutes=3))}

    slack.start()
    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        assert sweep.delay().get() == 0
    assert slack.received == []
    with time_machine.travel(NOW + timedelta(minutes=3), tick=False):
        assert sweep.delay().get() == 3
        assert sweep.delay().get() == 0
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        assert sweep.delay().get() == 0

    assert sorted(slack.texts()) == [
        ("/own", f"*First*\n<{settings.SITE_URL}/handoffs/1/|Open in Handoff>"),
        ("/team", f"*Second*\n<{settings.SITE_URL}/handoffs/2/|Open in Handoff>"),
        ("/team", f"*Third*\n<{settings.SITE_URL}/handoffs/3/|Open in Handoff>"),
    ]
    assert {
        (slack_row(n).status, slack_row(n).attempts, slack_row(n).sent_at) for n in notifications
    } == {("sent", 3, NOW + timedelta(minutes=3))}
    assert len(mail.outbox) == 3


def test_an_error_status_from_slack_is_recorded_and_retried(
    slack, django_capture_on_commit_callbacks
):
    rep = RepFactory(user__username="bdr", slack_webhook_url=slack.url("/rep"))
    slack.status = 500

    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        notification = notify(rep.user, "1")
    slack.status = 200
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        assert sweep.delay().get() == 1

    delivery = slack_row(notification)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (
        "sent",
        2,
        "Slack answered HTTP 500",
    )
    assert len(slack.received) == 2


def test_a_webhook_removed_before_sending_skips_the_delivery(
    slack, django_capture_on_commit_callbacks
):
    rep = RepFactory(user__username="bdr", slack_webhook_url=slack.url("/rep"))
    with django_capture_on_commit_callbacks(execute=False):
        notification = notify(rep.user, "1")
    rep.slack_webhook_url = ""
    rep.save(update_fields=["slack_webhook_url"])

    assert deliver_notification.delay(slack_row(notification).pk).get() is False

    delivery = slack_row(notification)
    assert (delivery.status, delivery.next_attempt_at, delivery.last_error) == (
        "skipped",
        None,
        "no Slack webhook for the recipient or their team",
    )
    assert slack.received == []


def test_slack_text_escapes_markup_in_what_users_wrote():
    notification = Notification(
        title="New lead: A&B <Corp>", body="Note: 5 > 3", url="/handoffs/9/"
    )

    assert slack_text(notification) == (
        "*New lead: A&amp;B &lt;Corp&gt;*\nNote: 5 &gt; 3\n"
        f"<{settings.SITE_URL}/handoffs/9/|Open in Handoff>"
    )
