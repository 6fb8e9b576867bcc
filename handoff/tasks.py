import logging
import time

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from handoff.models import Notification
from handoff.services import handoff_sla_check, handoffs_sla_sweep, leads_assign_waiting

# A queued check that waited longer than this is dropped: the next sweep queues it again.
SWEEP_EXPIRES_SECONDS = 600

logger = logging.getLogger(__name__)


# A chunk of handoff ids per task: small enough to spread over the workers, large enough that
# a sweep over thousands of due handoffs queues few messages.
CHECK_CHUNK_SIZE = 100


@shared_task(name="handoff.sweep_overdue_handoffs")
def sweep_overdue_handoffs() -> int:
    """Find handoffs whose SLA check has come and queue them for the workers."""

    def queue(ids: list[int]) -> None:
        for offset in range(0, len(ids), CHECK_CHUNK_SIZE):
            check_handoffs_sla.apply_async(
                args=[ids[offset : offset + CHECK_CHUNK_SIZE]], expires=SWEEP_EXPIRES_SECONDS
            )

    return handoffs_sla_sweep(check=queue)


@shared_task(name="handoff.check_handoffs_sla")
def check_handoffs_sla(handoff_ids: list[int]) -> int:
    started = time.monotonic()
    taken = sum(len(handoff_sla_check(handoff_id=handoff_id)) for handoff_id in handoff_ids)
    logger.info(
        "sla checks done handoffs=%s steps=%s elapsed_ms=%d",
        len(handoff_ids),
        taken,
        (time.monotonic() - started) * 1000,
    )
    return taken


@shared_task(name="handoff.assign_waiting_leads")
def assign_waiting_leads() -> int:
    return leads_assign_waiting()


@shared_task(
    name="handoff.send_notification_email",
    bind=True,
    max_retries=5,
    default_retry_delay=30,
)
def send_notification_email(self, notification_id: int) -> bool:  # noqa: ANN001
    """Email one notification, once. The row is claimed with a conditional update, so a
    repeated or retried task that finds it already sent does nothing."""
    started = time.monotonic()
    claimed = Notification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(
        emailed_at=timezone.now()
    )
    if not claimed:
        logger.warning("notification email already sent notification_id=%s", notification_id)
        return False
    notification = Notification.objects.select_related("recipient").get(pk=notification_id)
    if not notification.recipient.email:
        return False
    try:
        send_mail(
            subject=notification.title,
            message=f"{notification.body}\n\n{settings.SITE_URL}{notification.url}",
            from_email=None,
            recipient_list=[notification.recipient.email],
        )
    except Exception as error:
        # Give the claim back so that the retry can send it.
        with transaction.atomic():
            Notification.objects.filter(pk=notification_id).update(emailed_at=None)
        logger.warning("notification email failed notification_id=%s", notification_id)
        raise self.retry(exc=error) from error
    logger.info(
        "notification emailed notification_id=%s elapsed_ms=%d",
        notification_id,
        (time.monotonic() - started) * 1000,
    )
    return True
