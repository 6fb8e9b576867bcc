import logging
import time

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from handoff.models import Notification
from handoff.services import handoffs_escalate_overdue, leads_assign_waiting

logger = logging.getLogger(__name__)


@shared_task(name="handoff.sweep_overdue_handoffs")
def sweep_overdue_handoffs() -> int:
    return handoffs_escalate_overdue()


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
