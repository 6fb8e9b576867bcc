"""Notifications, and the channels each one goes out on.

A notification row is written in the same transaction as the change that caused it, with one
delivery row per channel the recipient wants for its kind (see handoff.delivery, the outbox).
The sending tasks are queued only after that transaction commits, so a rolled-back change
sends nothing, and a committed one always has its deliveries on record, even when the queue
is down: the retry sweep finds them.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from handoff.delivery import (
    deliveries_build,
    deliveries_create,
    deliveries_queue,
    deliveries_queue_together,
    slack_webhook_of,
)
from handoff.models import (
    Delivery,
    DeliveryChannel,
    DeliveryStatus,
    Notification,
    NotificationPreference,
)
from reps.models import Rep

logger = logging.getLogger(__name__)

# Every kind of notification the services send, as a user reads it on the preferences page.
# A kind missing here still goes out on every channel; it is listed once a user has had one.
NOTIFICATION_KINDS: dict[str, str] = {
    "handoff_assigned": "A lead is assigned to you",
    "handoff_due_soon": "Your first-response deadline is near",
    "handoff_overdue": "Your first-response deadline is missed",
    "handoff_escalated": "A rep on your team missed a deadline",
    "cadence_missed": "A rep on your team missed the follow-up cadence",
    "handoff_returned": "A lead is returned to marketing",
    "routing_exhausted": "MQLs are waiting and no rep can take them",
    "opportunity_handed_over": "An opportunity is handed to you",
    "quarterly_review_due": "The quarterly protocol review is due",
}

# The SLA's own alerts: whatever else a user turns off, these stay in the app, since the
# agreement holds the rep (and the manager) to them.
ALWAYS_IN_APP: frozenset[str] = frozenset(
    {"handoff_assigned", "handoff_due_soon", "handoff_overdue", "handoff_escalated"}
)
ALWAYS_IN_APP_REFUSED = (
    "'{kind}' stays on in the app: the sales SLA relies on it. Turn off email or Slack instead."
)

UNKNOWN_KIND = "'{kind}' is not a notification kind. Use one of: {known}."
UNKNOWN_CHANNEL = "'{channel}' is not a notification channel. Use one of: {known}."


def notification_create(
    *,
    recipient: AbstractBaseUser,
    kind: str,
    key: str,
    title: str,
    body: str = "",
    url: str = "",
) -> Notification | None:
    """Write a notification and its deliveries unless one with the same key exists; returns
    None for a repeat, which writes nothing and queues nothing.

    Call it inside the transaction of the change it reports. The in-app channel is delivered
    by the row itself; the others are sent by tasks queued after commit.
    """
    now = timezone.now()
    channels = notification_channels_for(recipient=recipient, kind=kind)
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient=recipient,
                kind=kind,
                key=key,
                title=title,
                body=body,
                url=url,
                # A user who turned the in-app channel off keeps the record, but no badge.
                read_at=None if DeliveryChannel.IN_APP in channels else now,
            )
            deliveries = deliveries_create(notification=notification, channels=channels, now=now)
    except IntegrityError:
        logger.warning("notification skipped as duplicate recipient_id=%s", recipient.pk)
        return None

    deliveries_queue(delivery_ids=[d.pk for d in deliveries if d.status == DeliveryStatus.PENDING])
    logger.info(
        "notification created notification_id=%s kind=%s recipient_id=%s channels=%s",
        notification.pk,
        kind,
        recipient.pk,
        ",".join(delivery.channel for delivery in deliveries),
    )
    return notification


def notification_channels_for(*, recipient: AbstractBaseUser, kind: str) -> list[str]:
    """The channels the recipient has not turned off for this kind; every channel by default."""
    turned_off = set(
        NotificationPreference.objects.filter(
            user_id=recipient.pk, kind=kind, enabled=False
        ).values_list("channel", flat=True)
    )
    return channels_except(kind=kind, turned_off=turned_off)


def channels_except(*, kind: str, turned_off: Iterable[str]) -> list[str]:
    off = set(turned_off)
    if kind in ALWAYS_IN_APP:
        off.discard(DeliveryChannel.IN_APP)
    return [channel for channel in DeliveryChannel.values if channel not in off]


@dataclass(frozen=True)
class NotificationDraft:
    """A notification to write, for notifications_create_new."""

    recipient: AbstractBaseUser
    kind: str
    key: str
    title: str
    body: str = ""
    url: str = ""


def notifications_create_new(*, drafts: Sequence[NotificationDraft]) -> list[Notification]:
    """Write many notifications and their deliveries with a few inserts, and queue the sends
    after commit from one callback.

    For keys that cannot exist yet (they name a row written in the same transaction): unlike
    notification_create, a repeated key is not skipped but fails the caller's transaction.
    The rows, channels and deliveries are those notification_create writes for each draft.
    """
    if not drafts:
        return []
    now = timezone.now()
    recipient_ids = {draft.recipient.pk for draft in drafts}
    turned_off: dict[tuple[int, str], set[str]] = {}
    for user_id, kind, channel in NotificationPreference.objects.filter(
        user_id__in=recipient_ids, kind__in={draft.kind for draft in drafts}, enabled=False
    ).values_list("user_id", "kind", "channel"):
        turned_off.setdefault((user_id, kind), set()).add(channel)
    reps = Rep.objects.filter(user_id__in=recipient_ids).select_related("team")
    webhooks = {rep.user_id: slack_webhook_of(rep=rep) for rep in reps}

    notifications = []
    channels = []
    for draft in drafts:
        wanted = channels_except(
            kind=draft.kind, turned_off=turned_off.get((draft.recipient.pk, draft.kind), ())
        )
        channels.append(wanted)
        notifications.append(
            Notification(
                recipient=draft.recipient,
                kind=draft.kind,
                key=draft.key,
                title=draft.title,
                body=draft.body,
                url=draft.url,
                # A user who turned the in-app channel off keeps the record, but no badge.
                read_at=None if DeliveryChannel.IN_APP in wanted else now,
            )
        )
    Notification.objects.bulk_create(notifications)
    deliveries = Delivery.objects.bulk_create(
        delivery
        for notification, wanted in zip(notifications, channels, strict=True)
        for delivery in deliveries_build(
            notification=notification,
            channels=wanted,
            now=now,
            slack_webhook=webhooks.get(notification.recipient.pk, ""),
        )
    )
    deliveries_queue_together(
        delivery_ids=[d.pk for d in deliveries if d.status == DeliveryStatus.PENDING]
    )
    logger.info("notifications created count=%s deliveries=%s", len(notifications), len(deliveries))
    return notifications


def notification_kinds_for(*, user: AbstractBaseUser) -> dict[str, str]:
    """The kinds a user can choose channels for: the known ones, and any other kind the user
    has received or set a preference for, so that nothing they get is out of their reach."""
    kinds = dict(NOTIFICATION_KINDS)
    seen = set(
        Notification.objects.filter(recipient_id=user.pk).values_list("kind", flat=True)
    ) | set(NotificationPreference.objects.filter(user_id=user.pk).values_list("kind", flat=True))
    for kind in sorted(seen - kinds.keys()):
        kinds[kind] = kind.replace("_", " ").capitalize()
    return kinds


def notification_preferences_for(*, user: AbstractBaseUser) -> dict[tuple[str, str], bool]:
    """Whether each (kind, channel) is on for the user, for every kind they can choose."""
    rows = NotificationPreference.objects.filter(user_id=user.pk).values_list(
        "kind", "channel", "enabled"
    )
    stored = {(kind, channel): enabled for kind, channel, enabled in rows}
    return {
        (kind, channel): stored.get((kind, channel), True)
        for kind in notification_kinds_for(user=user)
        for channel in DeliveryChannel.values
    }


def notification_preferences_set(
    *, user: AbstractBaseUser, choices: dict[tuple[str, str], bool]
) -> int:
    """Store the user's channel choices; returns how many changed.

    Every (kind, channel) pair is checked before anything is written, so one unknown value
    refuses the whole change. Kinds must be ones the user can choose (notification_kinds_for).
    """
    kinds = notification_kinds_for(user=user)
    for kind, channel in choices:
        if kind not in kinds:
            raise ValueError(UNKNOWN_KIND.format(kind=kind, known=", ".join(kinds)))
        if channel not in DeliveryChannel.values:
            raise ValueError(
                UNKNOWN_CHANNEL.format(channel=channel, known=", ".join(DeliveryChannel.values))
            )
        in_app_off = channel == DeliveryChannel.IN_APP and not choices[kind, channel]
        if in_app_off and kind in ALWAYS_IN_APP:
            raise ValueError(ALWAYS_IN_APP_REFUSED.format(kind=kinds[kind]))

    current = notification_preferences_for(user=user)
    changed = {pair: enabled for pair, enabled in choices.items() if current[pair] != enabled}
    with transaction.atomic():
        for (kind, channel), enabled in changed.items():
            NotificationPreference.objects.update_or_create(
                user_id=user.pk, kind=kind, channel=channel, defaults={"enabled": enabled}
            )
    logger.info("notification preferences changed user_id=%s count=%s", user.pk, len(changed))
    return len(changed)


def notification_preferences_from_form(
    *, kinds: Iterable[str], checked: Iterable[str]
) -> dict[tuple[str, str], bool]:
    """Turn a form's ticked boxes ("kind:channel") into a choice for every kind and channel:
    a box left unticked turns that channel off."""
    ticked = set(checked)
    # The page draws the always-on boxes disabled, and browsers do not send those.
    ticked |= {f"{kind}:{DeliveryChannel.IN_APP}" for kind in ALWAYS_IN_APP}
    return {
        (kind, channel): f"{kind}:{channel}" in ticked
        for kind in kinds
        for channel in DeliveryChannel.values
    }
