import logging
import time

from celery import shared_task
from django.conf import settings

from handoff.delivery import deliveries_due, delivery_for_email, delivery_send
from handoff.services import handoff_sla_check, handoffs_sla_sweep, leads_assign_waiting

logger = logging.getLogger(__name__)


# A chunk of handoff ids per task: small enough to spread over the workers, large enough that
# a sweep over thousands of due handoffs queues few messages.
CHECK_CHUNK_SIZE = 100


@shared_task(name="handoff.sweep_overdue_handoffs")
def sweep_overdue_handoffs() -> int:
    """Find handoffs whose SLA check has come and queue them for the workers."""

    def queue(ids: list[int]) -> None:
        for offset in range(0, len(ids), CHECK_CHUNK_SIZE):
            # A check still queued when its lease ends is dropped: the sweep hands those
            # handoffs out again by then.
            check_handoffs_sla.apply_async(
                args=[ids[offset : offset + CHECK_CHUNK_SIZE]],
                expires=settings.SLA_CHECK_LEASE_SECONDS,
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


@shared_task(name="handoff.deliver_notification")
def deliver_notification(delivery_id: int) -> bool:
    """Send one delivery of the outbox. Idempotent: see handoff.delivery.delivery_send."""
    return delivery_send(delivery_id=delivery_id)


# Queued sends that wait longer than a sweep interval are dropped: the next sweep queues them
# again, so a backlog never piles up duplicate messages in the broker.
DELIVERY_SWEEP_EXPIRES_SECONDS = 60


@shared_task(name="handoff.sweep_notification_deliveries")
def sweep_notification_deliveries() -> int:
    """Queue the deliveries that are due again: retries whose backoff has passed, and sends
    whose worker died. Beat runs it every minute."""
    started = time.monotonic()
    due = deliveries_due()
    for delivery_id in due:
        deliver_notification.apply_async(args=[delivery_id], expires=DELIVERY_SWEEP_EXPIRES_SECONDS)
    logger.info(
        "delivery sweep done queued=%s elapsed_ms=%d", len(due), (time.monotonic() - started) * 1000
    )
    return len(due)


@shared_task(name="handoff.send_notification_email")
def send_notification_email(notification_id: int) -> bool:
    """Email one notification through its email delivery, once.

    Kept under its old name for the messages queued before the outbox existed; a notification
    from then has no delivery rows, so its email delivery is written here, if the recipient
    still wants email for that kind.
    """
    delivery_id = delivery_for_email(notification_id=notification_id)
    if delivery_id is None:
        return False
    return delivery_send(delivery_id=delivery_id)
