"""The SLA engine at work: warnings, escalations and the follow-up cadence."""

import logging
import time
from datetime import datetime

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from handoff.models import (
    Escalation,
    EscalationLevel,
    Handoff,
    HandoffEvent,
)
from handoff.notifications import notification_create
from handoff.selectors import handoff_ids_overdue

logger = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 500


def handoff_escalate(*, handoff_id: int, now: datetime | None = None) -> Escalation | None:
    """Alert the rep's manager that a first-response deadline passed.

    Idempotent and safe to run from several workers at once: the handoff row is locked, the
    deadline re-checked, and the unique (handoff, level) row decides who escalates. Returns
    None when there is nothing (more) to do.
    """
    now = now or timezone.now()
    with transaction.atomic():
        handoff = (
            Handoff.objects.select_for_update(of=("self",))
            .select_related("rep__team", "rep__user", "lead")
            .filter(pk=handoff_id)
            .first()
        )
        if handoff is None or not handoff.is_open or handoff.first_response_at is not None:
            return None
        if handoff.due_at > now:
            return None
        manager = handoff.rep.escalation_manager
        try:
            with transaction.atomic():
                escalation = Escalation.objects.create(
                    handoff=handoff,
                    level=EscalationLevel.MANAGER_ALERT,
                    rep=handoff.rep,
                    notified=manager,
                )
        except IntegrityError:
            logger.warning("escalation already done handoff_id=%s level=1", handoff.pk)
            return None
        HandoffEvent.objects.create(
            handoff=handoff,
            kind=HandoffEvent.Kind.ESCALATED,
            note="first-response deadline missed; manager alerted",
        )
        if manager is not None:
            notification_create(
                recipient=manager,
                kind="handoff_escalated",
                key=f"escalation:{escalation.pk}",
                title=f"SLA missed: {handoff.rep} has not responded to {handoff.lead.display_name}",
                body=f"The first response was due {handoff.due_at:%Y-%m-%d %H:%M} UTC.",
                url=reverse("handoff-detail", args=[handoff.pk]),
            )
    logger.info(
        "handoff escalated handoff_id=%s rep_id=%s level=%s",
        handoff.pk,
        handoff.rep_id,
        escalation.level,
    )
    return escalation


def handoffs_escalate_overdue(*, now: datetime | None = None) -> int:
    """Escalate every handoff past its deadline, in batches; returns how many were escalated."""
    started = time.monotonic()
    now = now or timezone.now()
    escalated = 0
    after_id = 0
    while True:
        ids = handoff_ids_overdue(now=now, after_id=after_id, limit=SWEEP_BATCH_SIZE)
        if not ids:
            break
        for handoff_id in ids:
            if handoff_escalate(handoff_id=handoff_id, now=now) is not None:
                escalated += 1
        after_id = ids[-1]
    logger.info(
        "sla sweep done escalated=%s elapsed_ms=%d",
        escalated,
        (time.monotonic() - started) * 1000,
    )
    return escalated
