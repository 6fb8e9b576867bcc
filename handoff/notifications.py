"""In-app notifications, and the email that follows each one.

A notification row is written in the same transaction as the change that caused it; the email
task is queued only after that transaction commits, so a rolled-back change sends nothing.
"""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from handoff.models import Notification

logger = logging.getLogger(__name__)


def notification_create(
    *,
    recipient: AbstractBaseUser,
    kind: str,
    key: str,
    title: str,
    body: str = "",
    url: str = "",
) -> Notification | None:
    """Write a notification unless one with the same key exists; returns None for a repeat."""
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient=recipient, kind=kind, key=key, title=title, body=body, url=url
            )
    except IntegrityError:
        logger.warning("notification skipped as duplicate recipient_id=%s", recipient.pk)
        return None

    from handoff.tasks import send_notification_email

    transaction.on_commit(lambda: send_notification_email.delay(notification.pk))
    logger.info(
        "notification created notification_id=%s kind=%s recipient_id=%s",
        notification.pk,
        kind,
        recipient.pk,
    )
    return notification
