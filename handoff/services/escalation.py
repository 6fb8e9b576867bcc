"""The SLA engine at work: warnings, the escalation chain and the follow-up cadence.

Beat runs a sweep that only finds handoffs whose next check has come, through a partial
index, and hands their ids out in chunks. Each check locks the lead and the handoff, works out
what is due from the schedule in handoff.sla, and acts on each due step once: a unique
(handoff, level) row records that a step was taken, so a repeated, retried or concurrent check
does nothing more. After downtime, everything that fell due meanwhile is done in one check.
"""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from feedback.models import RejectionReason
from handoff.errors import HandoffError
from handoff.models import Escalation, EscalationLevel, Handoff, HandoffEvent
from handoff.notifications import notification_create
from handoff.selectors import handoff_ids_due_for_check
from handoff.services.assignment import handoff_reassign
from handoff.services.common import company_days_off, sla_schedule
from handoff.services.work import close_with_rejection
from handoff.sla import DEFAULT_POLICY, Step, cadence_status, deadline_for_rep
from leads.services import lead_lock

logger = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 500
NO_RESPONSE_REASON = "no-response"
NO_RESPONSE_NOTE = "No first response within the SLA, its reminders and escalations."
WARNING_SKIPPED_NOTE = "warning skipped: the deadline had already passed"
SLA_REASSIGN_REASON = "No first response within the SLA: reassigned by the escalation chain."


def handoff_sla_check(*, handoff_id: int, now: datetime | None = None) -> list[Escalation]:
    """Take every SLA step that is due on one handoff, once each, and schedule the next check.

    Safe to call any number of times, from any number of workers: the lead and handoff rows
    are locked, everything is re-read under the lock, and each step is claimed by inserting
    its unique row. Returns the steps taken by this call.
    """
    now = now or timezone.now()
    taken: list[Escalation] = []
    with transaction.atomic():
        lead_id = Handoff.objects.filter(pk=handoff_id).values_list("lead_id", flat=True).first()
        if lead_id is None:
            return taken
        lead_lock(lead_id=lead_id)
        handoff = (
            Handoff.objects.select_for_update(of=("self",))
            .select_related("rep__user", "rep__team", "lead", "policy")
            .get(pk=handoff_id)
        )
        if not handoff.is_open:
            Handoff.objects.filter(pk=handoff.pk).update(next_check_at=None)
            return taken

        calendar = handoff.rep.calendar(days_off=company_days_off())
        done = set(handoff.escalations.values_list("level", flat=True))
        next_at: datetime | None = None
        for step in sla_schedule(handoff):
            if step.level in done:
                continue
            if step.at > now:
                next_at = min(next_at or step.at, step.at)
                continue
            if (
                step.during_working_hours
                and not _warning_too_late(handoff=handoff, step=step, now=now)
                and not calendar.is_open(now)
            ):
                # A message to the rep waits for the rep's next working hour. A warning past
                # its deadline sends nothing, so it is done at once instead.
                opening = calendar.next_opening(now)
                next_at = min(next_at or opening, opening)
                continue
            escalation = _take_step(handoff=handoff, step=step, calendar=calendar, now=now)
            if escalation is not None:
                taken.append(escalation)
            if not Handoff.objects.filter(
                pk=handoff.pk, state__in=("assigned", "accepted")
            ).exists():
                # Reassigned or returned: this handoff's chain is over.
                next_at = None
                break
        Handoff.objects.filter(pk=handoff.pk).update(next_check_at=next_at)
    for escalation in taken:
        logger.info(
            "sla step taken handoff_id=%s rep_id=%s level=%s",
            handoff.pk,
            escalation.rep_id,
            escalation.level,
        )
    return taken


def _warning_too_late(*, handoff: Handoff, step: Step, now: datetime) -> bool:
    """Whether this is the warning, reached at or after the deadline it warns of, as after
    downtime or for a handoff whose deadline had passed before its first check."""
    return step.level == EscalationLevel.WARNING and now >= handoff.due_at


def _claim(*, handoff: Handoff, level: int, notified=None, note: str = "") -> Escalation | None:  # noqa: ANN001
    try:
        with transaction.atomic():
            return Escalation.objects.create(
                handoff=handoff, level=level, rep=handoff.rep, notified=notified, note=note
            )
    except IntegrityError:
        logger.warning("sla step already taken handoff_id=%s level=%s", handoff.pk, level)
        return None


def _take_step(*, handoff: Handoff, step: Step, calendar, now: datetime) -> Escalation | None:  # noqa: ANN001
    rep = handoff.rep
    manager = rep.escalation_manager
    url = reverse("handoff-detail", args=[handoff.pk])
    lead_name = handoff.lead.display_name

    due = deadline_for_rep(at=handoff.due_at, rep=rep)

    if step.level == EscalationLevel.CADENCE_MISSED:
        attempt_times = list(handoff.attempts.values_list("attempted_at", flat=True))
        status = cadence_status(
            handoff=handoff,
            policy=handoff.policy or DEFAULT_POLICY,
            calendar=calendar,
            attempt_times=attempt_times,
            now=now,
        )
        if status != "missed":
            return None
        return _claim_and_tell(
            handoff=handoff,
            level=step.level,
            recipient=manager,
            kind="cadence_missed",
            title=f"Follow-up cadence missed: {rep} on {lead_name}",
            body=f"{len(attempt_times)} attempts logged.",
            event_note="follow-up cadence missed; manager alerted",
        )
    if step.level == EscalationLevel.WARNING:
        if _warning_too_late(handoff=handoff, step=step, now=now):
            # Telling the rep the deadline is near once it has passed would only confuse; the
            # overdue reminder carries the message. The step is still claimed, so it is done.
            return _claim(handoff=handoff, level=step.level, note=WARNING_SKIPPED_NOTE)
        return _claim_and_tell(
            handoff=handoff,
            level=step.level,
            recipient=rep.user,
            kind="handoff_due_soon",
            title=f"Respond soon: {lead_name}",
            body=f"The first response is due {due}.",
        )
    if step.level == EscalationLevel.REMIND_REP:
        return _claim_and_tell(
            handoff=handoff,
            level=step.level,
            recipient=rep.user,
            kind="handoff_overdue",
            title=f"Overdue: {lead_name} is waiting for your first response",
            body=f"It was due {due}.",
            event_note="first-response deadline missed; rep reminded",
        )
    if step.level == EscalationLevel.MANAGER_ALERT:
        return _claim_and_tell(
            handoff=handoff,
            level=step.level,
            recipient=manager,
            kind="handoff_escalated",
            title=f"SLA missed: {rep} has not responded to {lead_name}",
            body=f"The first response was due {due}, {rep}'s local time.",
            event_note="first-response deadline missed; manager alerted",
        )

    if step.level == EscalationLevel.REASSIGN:
        escalation = _claim(handoff=handoff, level=step.level)
        if escalation is None:
            return None
        try:
            with transaction.atomic():
                new = handoff_reassign(
                    handoff_id=handoff.pk, actor=None, reason=SLA_REASSIGN_REASON, now=now
                )
        except HandoffError:
            # Nobody else can take it now; the chain goes on to the return to marketing.
            Escalation.objects.filter(pk=escalation.pk).update(note="nobody else was eligible")
            return escalation
        Escalation.objects.filter(pk=escalation.pk).update(note=f"to handoff {new.pk}")
        return escalation

    if step.level == EscalationLevel.RETURN_TO_MARKETING:
        escalation = _claim(handoff=handoff, level=step.level)
        if escalation is None:
            return None
        reason = RejectionReason.objects.filter(code=NO_RESPONSE_REASON).first()
        if reason is None:
            Escalation.objects.filter(pk=escalation.pk).update(
                note=f"no rejection reason with code '{NO_RESPONSE_REASON}'"
            )
            logger.error("no-response reason missing handoff_id=%s", handoff.pk)
            return escalation
        close_with_rejection(
            handoff=handoff,
            lead=handoff.lead,
            reason=reason,
            note=NO_RESPONSE_NOTE,
            actor=None,
            transition="return_to_marketing",
            event_kind=HandoffEvent.Kind.RETURNED,
            now=now,
        )
        if manager is not None:
            notification_create(
                recipient=manager,
                kind="handoff_returned",
                key=f"escalation:{escalation.pk}",
                title=f"Returned to marketing: {lead_name}",
                body=f"{rep} never responded; the lead went back with the reason 'no response'.",
                url=url,
            )
        return escalation
    raise ValueError(f"unknown SLA level {step.level}")


def _claim_and_tell(
    *,
    handoff: Handoff,
    level: int,
    recipient,  # noqa: ANN001 - a user, or None when the rep has no manager
    kind: str,
    title: str,
    body: str,
    event_note: str = "",
) -> Escalation | None:
    """Take a step that is a message: claim its row, notify, and record it in the history.
    Does nothing when another check took the step first."""
    escalation = _claim(handoff=handoff, level=level, notified=recipient)
    if escalation is None:
        return None
    if recipient is not None:
        notification_create(
            recipient=recipient,
            kind=kind,
            key=f"escalation:{escalation.pk}",
            title=title,
            body=body,
            url=reverse("handoff-detail", args=[handoff.pk]),
        )
    if event_note:
        _event(handoff, event_note)
    return escalation


def _event(handoff: Handoff, note: str) -> None:
    HandoffEvent.objects.create(handoff=handoff, kind=HandoffEvent.Kind.ESCALATED, note=note)


def handoffs_sla_sweep(*, now: datetime | None = None, check=None) -> int:  # noqa: ANN001
    """Find every open handoff whose next check has come and check it, in batches of
    SWEEP_BATCH_SIZE ids; returns how many handoffs were handed out.

    `check` receives each batch of ids; by default the batch is checked here, and the beat
    task passes a function that queues the batch for the workers instead. Each batch costs
    two queries whatever the size of the table: the keyset page of due ids, and their claim.
    """
    started = time.monotonic()
    now = now or timezone.now()
    handed_out = 0
    after_id = 0
    while True:
        ids = _claim_due_batch(now=now, after_id=after_id)
        if not ids:
            break
        if check is None:
            for handoff_id in ids:
                handoff_sla_check(handoff_id=handoff_id, now=now)
        else:
            check(ids)
        handed_out += len(ids)
        after_id = ids[-1]
    logger.info(
        "sla sweep done handoffs=%s elapsed_ms=%d", handed_out, (time.monotonic() - started) * 1000
    )
    return handed_out


def _claim_due_batch(*, now: datetime, after_id: int) -> list[int]:
    """Claim the next batch of due handoffs by pushing their next check out by the lease.

    A claimed handoff is not handed out again, by this sweep or by one that another beat
    started at the same time, until its check has run or the lease has ended; so a check
    lost with its worker (killed, or its message dropped while the broker was down) comes
    due again after the lease. Rows locked by a check in progress are skipped, not waited
    for.
    """
    lease = timedelta(seconds=settings.SLA_CHECK_LEASE_SECONDS)
    with transaction.atomic():
        ids = handoff_ids_due_for_check(
            now=now, after_id=after_id, limit=SWEEP_BATCH_SIZE, lock=True
        )
        if ids:
            Handoff.objects.filter(pk__in=ids).update(next_check_at=now + lease)
    return ids
