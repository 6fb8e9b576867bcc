"""The notification outbox: one delivery row per notification and channel, sent by workers.

A delivery moves pending -> sending -> sent. A worker claims it with a compare-and-set update
that also stamps the claim time (its lease); only the worker holding that claim may finish it.
A failed send goes back to pending with the next attempt pushed out exponentially, until the
attempts run out and it is marked failed. The retry sweep, run by beat every minute, queues
pending deliveries whose next attempt has come and sending ones whose lease ran out (their
worker died mid-send). A channel with nowhere to send (no email address, no Slack webhook) ends
as skipped.

Sending is at least once: a worker that dies after the channel accepted the message but before
the row says so leaves a claim that expires, and the message goes out again. Everything short
of that (repeated tasks, a sweep racing the first task, retries) sends nothing twice.
"""

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from handoff.models import Delivery, DeliveryChannel, DeliveryStatus, Notification
from reps.models import Rep

logger = logging.getLogger(__name__)

# Eight attempts, one minute apart at first and doubling up to an hour: about two hours of
# retries (1+2+4+8+16+32+60 minutes) before a delivery is given up as failed.
MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
# A claim older than this is taken to be lost. It must outlast the task's hard time limit, or
# a slow send still in progress could be claimed and sent a second time.
CLAIM_LEASE = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT) + timedelta(minutes=5)
# At most this many deliveries are queued by one sweep; the rest wait for the next minute, so
# that a long outage does not flood the queue when the channel comes back.
SWEEP_LIMIT = 1000
SLACK_TIMEOUT_SECONDS = 10

RETRYABLE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED)


class DeliveryImpossible(Exception):
    """The channel has nowhere to send this notification; retrying cannot help."""


class SlackError(Exception):
    """Slack did not take the message. The text names a status or an error class, never the
    webhook (a secret) or the message (personal data)."""


def retry_delay(*, attempts: int) -> timedelta:
    """How long to wait after the given number of failed attempts."""
    return min(RETRY_BASE * 2 ** (attempts - 1), RETRY_CAP)


def slack_webhook_for(*, user: AbstractBaseUser) -> str:
    """The rep's own Slack webhook, else their team's; empty for a user who is not a rep."""
    return slack_webhook_of(rep=Rep.objects.filter(user_id=user.pk).select_related("team").first())


def slack_webhook_of(*, rep: Rep | None) -> str:
    """The rep's own Slack webhook, else their team's (loaded with the rep); empty for none."""
    if rep is None:
        return ""
    if rep.slack_webhook_url:
        return rep.slack_webhook_url
    return rep.team.slack_webhook_url if rep.team_id else ""


def deliveries_create(
    *, notification: Notification, channels: Iterable[str], now: datetime
) -> list[Delivery]:
    """Write the notification's delivery rows, inside the caller's transaction."""
    wanted = set(channels)
    slack_webhook = (
        slack_webhook_for(user=notification.recipient) if DeliveryChannel.SLACK in wanted else ""
    )
    return Delivery.objects.bulk_create(
        deliveries_build(
            notification=notification, channels=wanted, now=now, slack_webhook=slack_webhook
        )
    )


def deliveries_build(
    *, notification: Notification, channels: Iterable[str], now: datetime, slack_webhook: str
) -> list[Delivery]:
    """The notification's delivery rows, unsaved.

    The in-app delivery is the notification itself, so it is sent as it is written. Email and
    Slack get a row only when there is somewhere to send them.
    """
    wanted = set(channels)
    deliveries = []
    if DeliveryChannel.IN_APP in wanted:
        deliveries.append(
            Delivery(
                notification=notification,
                channel=DeliveryChannel.IN_APP,
                status=DeliveryStatus.SENT,
                attempts=1,
                sent_at=now,
            )
        )
    if DeliveryChannel.EMAIL in wanted and notification.recipient.email:
        deliveries.append(
            Delivery(notification=notification, channel=DeliveryChannel.EMAIL, next_attempt_at=now)
        )
    if DeliveryChannel.SLACK in wanted and slack_webhook:
        deliveries.append(
            Delivery(notification=notification, channel=DeliveryChannel.SLACK, next_attempt_at=now)
        )
    return deliveries


def deliveries_queue(*, delivery_ids: Iterable[int]) -> None:
    """Queue a send task for each delivery once the current transaction commits.

    A queue that is down at that moment must not turn a committed change into an error: the
    failure is logged and the retry sweep sends the delivery later.
    """
    from handoff.tasks import deliver_notification

    for delivery_id in delivery_ids:
        transaction.on_commit(lambda pk=delivery_id: deliver_notification.delay(pk), robust=True)


def deliveries_queue_together(*, delivery_ids: Iterable[int]) -> None:
    """Queue a send task for each delivery once the current transaction commits, from one
    commit callback for them all: the form for a batch of notifications.

    When the queue refuses one, the rest are left to the retry sweep rather than each waiting
    on a queue that is down.
    """
    from handoff.tasks import deliver_notification

    ids = list(delivery_ids)
    if not ids:
        return

    def queue_all() -> None:
        for index, delivery_id in enumerate(ids):
            try:
                deliver_notification.delay(delivery_id)
            except Exception:
                logger.exception(
                    "deliveries not queued, left to the retry sweep delivery_id=%s count=%s",
                    delivery_id,
                    len(ids) - index,
                )
                return

    transaction.on_commit(queue_all, robust=True)


def _claimable(now: datetime) -> Q:
    # Due pending rows, and rows whose worker has held them past the lease.
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now) | Q(
        status=DeliveryStatus.SENDING, claimed_at__lt=now - CLAIM_LEASE
    )


def delivery_send(*, delivery_id: int) -> bool:
    """Send one delivery if it is due; returns whether this call sent it.

    Safe to call any number of times, from any number of workers: the claim is a conditional
    update, so a delivery already sent, being sent, or not yet due is left alone. No
    transaction is open while the channel is called.
    """
    started = time.monotonic()
    now = timezone.now()
    claimed = Delivery.objects.filter(_claimable(now), pk=delivery_id).update(
        status=DeliveryStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        logger.warning("delivery not due or already taken delivery_id=%s", delivery_id)
        return False
    delivery = Delivery.objects.select_related("notification__recipient").get(pk=delivery_id)
    mine = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.SENDING, claimed_at=now)

    try:
        SENDERS[delivery.channel](delivery.notification)
    except DeliveryImpossible as reason:
        mine.update(status=DeliveryStatus.SKIPPED, next_attempt_at=None, last_error=str(reason))
        logger.warning(
            "delivery skipped delivery_id=%s channel=%s reason=%s",
            delivery_id,
            delivery.channel,
            reason,
        )
        return False
    except Exception as error:  # noqa: BLE001 - any failure of the channel is retried
        _record_failure(delivery=delivery, claim=mine, error=error, now=now)
        return False

    sent_at = timezone.now()
    if not mine.update(status=DeliveryStatus.SENT, sent_at=sent_at, next_attempt_at=None):
        # The lease ran out during the send and another worker took the row over.
        logger.warning("delivery claim lost while sending delivery_id=%s", delivery_id)
    if delivery.channel == DeliveryChannel.EMAIL:
        Notification.objects.filter(pk=delivery.notification_id, emailed_at__isnull=True).update(
            emailed_at=sent_at
        )
    logger.info(
        "delivery sent delivery_id=%s notification_id=%s channel=%s attempt=%s elapsed_ms=%d",
        delivery_id,
        delivery.notification_id,
        delivery.channel,
        delivery.attempts,
        (time.monotonic() - started) * 1000,
    )
    return True


def _record_failure(
    *, delivery: Delivery, claim: QuerySet[Delivery], error: Exception, now: datetime
) -> None:
    # The exception's text can carry an address (SMTP refusals quote the recipient), so only
    # Slack's own messages, which are built here without one, are kept in full.
    described = str(error) if isinstance(error, SlackError) else type(error).__name__
    if delivery.attempts >= MAX_ATTEMPTS:
        claim.update(status=DeliveryStatus.FAILED, next_attempt_at=None, last_error=described)
        logger.error(
            "delivery failed for good delivery_id=%s channel=%s attempts=%s error=%s",
            delivery.pk,
            delivery.channel,
            delivery.attempts,
            described,
        )
        return
    next_attempt_at = now + retry_delay(attempts=delivery.attempts)
    claim.update(
        status=DeliveryStatus.PENDING, next_attempt_at=next_attempt_at, last_error=described
    )
    logger.warning(
        "delivery failed, will retry delivery_id=%s channel=%s attempts=%s error=%s",
        delivery.pk,
        delivery.channel,
        delivery.attempts,
        described,
    )


def _send_in_app(notification: Notification) -> None:
    # The notification row is the in-app message; it was delivered when it was written.
    return None


def _send_email(notification: Notification) -> None:
    address = notification.recipient.email
    if not address:
        raise DeliveryImpossible("recipient has no email address")
    send_mail(
        subject=notification.title,
        message=f"{notification.body}\n\n{settings.SITE_URL}{notification.url}",
        from_email=None,
        recipient_list=[address],
    )


def slack_text(notification: Notification) -> str:
    """The message as Slack shows it: the title in bold, the body, and a link to the page.
    Slack reads &, < and > as markup, so they are escaped in the text we did not write."""

    def escape(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    lines = [f"*{escape(notification.title)}*"]
    if notification.body:
        lines.append(escape(notification.body))
    if notification.url:
        lines.append(f"<{settings.SITE_URL}{notification.url}|Open in Handoff>")
    return "\n".join(lines)


def _send_slack(notification: Notification) -> None:
    webhook = slack_webhook_for(user=notification.recipient)
    if not webhook:
        raise DeliveryImpossible("no Slack webhook for the recipient or their team")
    # urllib also opens file: and ftp: addresses; a webhook is only ever http(s).
    if not webhook.startswith(("https://", "http://")):
        raise DeliveryImpossible("the Slack webhook is not an http(s) address")
    request = urllib.request.Request(
        webhook,
        data=json.dumps({"text": slack_text(notification)}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=SLACK_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        raise SlackError(f"Slack answered HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        cause = getattr(error, "reason", error)
        raise SlackError(f"Slack unreachable: {type(cause).__name__}") from None
    if status != 200:
        raise SlackError(f"Slack answered HTTP {status}")


SENDERS: dict[str, Callable[[Notification], None]] = {
    DeliveryChannel.IN_APP: _send_in_app,
    DeliveryChannel.EMAIL: _send_email,
    DeliveryChannel.SLACK: _send_slack,
}


def deliveries_due(*, now: datetime | None = None, limit: int = SWEEP_LIMIT) -> list[int]:
    """Ids of the deliveries a worker should try now, oldest first, through the two partial
    indexes: pending ones whose next attempt has come, and claims past their lease."""
    now = now or timezone.now()
    pending = (
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    stalled = (
        Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=now - CLAIM_LEASE)
        .order_by("claimed_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    return [*pending, *stalled][:limit]


def deliveries_retry(*, delivery_ids: Iterable[int], actor: AbstractBaseUser | None) -> int:
    """Make the given deliveries due now and queue them; returns how many.

    For the admin's "retry now". Sent deliveries and ones a worker holds are left alone, so
    retrying never sends a message twice. A failed delivery gets one more attempt each time.
    """
    now = timezone.now()
    with transaction.atomic():
        retried = list(
            Delivery.objects.select_for_update()
            .filter(pk__in=list(delivery_ids), status__in=RETRYABLE_STATUSES)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=retried).update(
            status=DeliveryStatus.PENDING, next_attempt_at=now
        )
        deliveries_queue(delivery_ids=retried)
    logger.info("deliveries retried count=%s actor_id=%s", len(retried), getattr(actor, "pk", None))
    return len(retried)


def delivery_for_email(*, notification_id: int) -> int | None:
    """The id of the notification's email delivery, written now for a notification from before
    the outbox; None when the recipient has no address or turned email off for the kind."""
    from handoff.notifications import notification_channels_for

    existing = Delivery.objects.filter(
        notification_id=notification_id, channel=DeliveryChannel.EMAIL
    ).first()
    if existing is not None:
        return existing.pk
    notification = (
        Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    )
    if notification is None or not notification.recipient.email:
        return None
    if notification.emailed_at is not None:
        # Emailed before the outbox kept a row for it.
        return None
    wanted = notification_channels_for(recipient=notification.recipient, kind=notification.kind)
    if DeliveryChannel.EMAIL not in wanted:
        return None
    delivery, _ = Delivery.objects.get_or_create(
        notification=notification,
        channel=DeliveryChannel.EMAIL,
        defaults={"next_attempt_at": timezone.now()},
    )
    return delivery.pk
