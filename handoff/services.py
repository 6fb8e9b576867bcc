"""Every write to handoffs: assignment, acceptance, contact attempts, rejection, escalation.

Locks are always taken in the order lead, handoff, rep, so that two services never wait on
each other in opposite orders.
"""

import logging
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django_fsm import can_proceed

from feedback.models import RejectionOutcome, RejectionReason
from handoff import roles
from handoff.documentation import missing_required_fields
from handoff.errors import HandoffError, PermissionRefused, TransitionConflict, TransitionRefused
from handoff.models import (
    DEFAULT_FIRST_RESPONSE_HOURS,
    OPEN_HANDOFF_STATES,
    ContactAttempt,
    Escalation,
    EscalationLevel,
    Handoff,
    HandoffEvent,
    HandoffPoint,
    HandoffState,
    SlaPolicy,
)
from handoff.notifications import notification_create
from handoff.selectors import handoff_ids_overdue, mql_waiting_ids, waiting_episode_id
from leads.models import BANT_PARTS, Lead, Stage, bant_missing
from leads.services import SQL_MISSING, lead_lock, lead_transition
from reps.models import CompanyDayOff, Rep
from reps.services import rep_route

logger = logging.getLogger(__name__)

SWEEP_BATCH_SIZE = 500

NOT_YOURS = "You can only act on handoffs you own or manage."
ALREADY_CHANGED = "This handoff is already {state}; reload the page to see its current state."
REASON_REQUIRED = "Choose a rejection reason."
REASON_UNKNOWN = "The rejection reason '{reason}' is not an active reason."
BANT_FIELDS = (
    *(f"{part}_{suffix}" for part in BANT_PARTS for suffix in ("status", "note")),
    "ready_for_demo",
    "pain",
    "context",
)
NOTE_REQUIRED = "Add a note: marketing needs to know why the lead was rejected."


def sla_policy_for(*, lead: Lead) -> SlaPolicy | None:
    for policy in SlaPolicy.objects.filter(active=True).order_by("position", "pk"):
        if policy.source_id and policy.source_id != lead.source_id:
            continue
        if policy.min_score is not None and lead.score < policy.min_score:
            continue
        return policy
    return None


def company_days_off() -> frozenset[date]:
    return frozenset(CompanyDayOff.objects.values_list("day", flat=True))


def handoff_assign(
    *, lead: Lead, actor: AbstractBaseUser | None, now: datetime | None = None
) -> Handoff | None:
    """Give an MQL to the rep routing picks, with a first-response deadline.

    The caller holds the lead's row lock. With no eligible rep the lead waits in the
    unassigned queue; the managers get one alert for each time that queue fills up, however
    many leads then pile up in it.
    """
    now = now or timezone.now()
    missing = missing_required_fields(lead=lead, point=HandoffPoint.TO_BDR)
    if missing:
        # The lead waits as an unassigned MQL until marketing completes it.
        logger.warning(
            "handoff blocked by missing fields lead_id=%s count=%s", lead.pk, len(missing)
        )
        return None
    # Everything that does not depend on the rep is read before routing locks the reps.
    policy = sla_policy_for(lead=lead)
    days_off = company_days_off()
    decision = rep_route(lead=lead, now=now)
    if decision.rep is None:
        logger.warning("no eligible rep lead_id=%s skipped=%s", lead.pk, len(decision.skipped))
        _alert_managers_nobody_eligible()
        return None
    return _handoff_open(
        lead=lead, rep=decision.rep, actor=actor, now=now, policy=policy, days_off=days_off
    )


def _handoff_open(
    *,
    lead: Lead,
    rep: Rep,
    actor: AbstractBaseUser | None,
    now: datetime,
    policy: SlaPolicy | None,
    days_off: frozenset[date],
    previous: Handoff | None = None,
) -> Handoff:
    """Create the handoff with its own clock, its audit row and the rep's notification."""
    hours = policy.first_response_hours if policy else DEFAULT_FIRST_RESPONSE_HOURS
    handoff = Handoff.objects.create(
        lead=lead,
        rep=rep,
        policy=policy,
        first_response_hours=hours,
        assigned_at=now,
        due_at=rep.calendar(days_off=days_off).add(now, timedelta(hours=hours)),
        previous=previous,
    )
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=HandoffEvent.Kind.ASSIGNED,
        actor=actor,
        to_state=handoff.state,
        note=f"first response due within {hours} business hours",
    )
    notification_create(
        recipient=rep.user,
        kind="handoff_assigned",
        key=f"handoff-assigned:{handoff.pk}",
        title=f"New lead: {lead.display_name}",
        body=f"Respond by {handoff.due_at.astimezone(ZoneInfo(rep.timezone)):%a %d %b %H:%M %Z}.",
        url=reverse("handoff-detail", args=[handoff.pk]),
    )
    logger.info(
        "handoff assigned handoff_id=%s lead_id=%s rep_id=%s hours=%s previous_id=%s",
        handoff.pk,
        lead.pk,
        rep.pk,
        hours,
        previous.pk if previous else None,
    )
    return handoff


def _alert_managers_nobody_eligible() -> None:
    # One alert per spell of waiting: more leads joining the queue add none; once the queue
    # has drained, the next lead that cannot be placed starts a new spell.
    episode = waiting_episode_id()
    for manager in get_user_model().objects.filter(groups__name=roles.MANAGER, is_active=True):
        notification_create(
            recipient=manager,
            kind="routing_exhausted",
            key=f"routing-exhausted:{episode}",
            title="MQLs are waiting: no rep can take them",
            body="Every rep who could take them is inactive, out of office or at capacity.",
            url=reverse("manager-dashboard"),
        )


REASSIGN_REASON_REQUIRED = "Say why the lead is being reassigned."
REASSIGN_NOBODY = "No other rep can take this lead now: all are inactive, away or at capacity."
REASSIGN_SAME_REP = "The lead is already with this rep."
REASSIGN_NOT_ALLOWED = "Only the rep's manager or RevOps can reassign a lead."


def handoff_reassign(
    *,
    handoff_id: int,
    actor: AbstractBaseUser | None,
    reason: str,
    to_rep_id: int | None = None,
    now: datetime | None = None,
) -> Handoff:
    """Move an open handoff to another rep, who gets a fresh clock.

    A manager (or RevOps) names the rep or lets routing choose; the system (actor None)
    reassigns when the escalation chain says so. The old handoff keeps its history and any
    breach stays on the first rep's record.
    """
    reason = (reason or "").strip()
    if not reason:
        raise HandoffError(REASSIGN_REASON_REQUIRED)
    now = now or timezone.now()
    with transaction.atomic():
        lead_id = Handoff.objects.values_list("lead_id", flat=True).get(pk=handoff_id)
        lead = lead_lock(lead_id=lead_id)
        old = (
            Handoff.objects.select_for_update(of=("self",))
            .select_related("rep__team")
            .get(pk=handoff_id)
        )
        if actor is not None and not (
            actor_may_act(handoff=old, actor=actor) and old.rep.user_id != actor.pk
        ):
            raise PermissionRefused(REASSIGN_NOT_ALLOWED)
        _require_transition(old, "hand_over")
        if to_rep_id is not None:
            if to_rep_id == old.rep_id:
                raise HandoffError(REASSIGN_SAME_REP)
            rep = Rep.objects.active().select_for_update(of=("self",)).get(pk=to_rep_id)
        else:
            rep = rep_route(lead=lead, now=now, exclude_rep_ids=[old.rep_id]).rep
            if rep is None:
                raise HandoffError(REASSIGN_NOBODY)
        from_state = old.state
        old.hand_over()
        old.ended_at = now
        old.save(update_fields=["state", "ended_at"])
        HandoffEvent.objects.create(
            handoff=old,
            kind=HandoffEvent.Kind.REASSIGNED,
            actor=actor,
            from_state=from_state,
            to_state=old.state,
            note=reason[:300],
        )
        new = _handoff_open(
            lead=lead,
            rep=rep,
            actor=actor,
            now=now,
            policy=sla_policy_for(lead=lead),
            days_off=company_days_off(),
            previous=old,
        )
    logger.info(
        "handoff reassigned handoff_id=%s new_handoff_id=%s from_rep_id=%s to_rep_id=%s",
        old.pk,
        new.pk,
        old.rep_id,
        rep.pk,
    )
    return new


def leads_assign_waiting(*, now: datetime | None = None) -> int:
    """Try again to place MQLs that found no eligible rep; returns how many were placed."""
    placed = 0
    for lead_id in mql_waiting_ids(limit=SWEEP_BATCH_SIZE):
        with transaction.atomic():
            lead = lead_lock(lead_id=lead_id)
            if (
                lead.stage != Stage.MQL
                or lead.handoffs.filter(state__in=OPEN_HANDOFF_STATES).exists()
            ):
                continue
            if handoff_assign(lead=lead, actor=None, now=now) is None:
                # Nobody can take leads now; the rest of the queue would fail the same way.
                break
            placed += 1
    return placed


def actor_may_act(*, handoff: Handoff, actor: AbstractBaseUser) -> bool:
    """The rep who holds the handoff, that rep's manager, or a RevOps admin."""
    if handoff.rep.user_id == actor.pk:
        return True
    if roles.has_role(actor, roles.REVOPS):
        return True
    return roles.has_role(actor, roles.MANAGER) and actor.pk in (
        handoff.rep.manager_id,
        handoff.rep.team.manager_id if handoff.rep.team_id else None,
    )


def _lock_for_actor(*, handoff_id: int, actor: AbstractBaseUser) -> Handoff:
    handoff = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("rep__team")
        .get(pk=handoff_id)
    )
    if not actor_may_act(handoff=handoff, actor=actor):
        raise PermissionRefused(NOT_YOURS)
    return handoff


def _require_transition(handoff: Handoff, method_name: str) -> None:
    if not can_proceed(getattr(handoff, method_name)):
        raise TransitionConflict(ALREADY_CHANGED.format(state=handoff.get_state_display().lower()))


def handoff_accept(*, handoff_id: int, actor: AbstractBaseUser) -> Handoff:
    with transaction.atomic():
        handoff = _lock_for_actor(handoff_id=handoff_id, actor=actor)
        _require_transition(handoff, "accept")
        from_state = handoff.state
        handoff.accept()
        handoff.accepted_at = timezone.now()
        handoff.save(update_fields=["state", "accepted_at"])
        HandoffEvent.objects.create(
            handoff=handoff,
            kind=HandoffEvent.Kind.ACCEPTED,
            actor=actor,
            from_state=from_state,
            to_state=handoff.state,
        )
    logger.info("handoff accepted handoff_id=%s actor_id=%s", handoff.pk, actor.pk)
    return handoff


def handoff_log_attempt(
    *,
    handoff_id: int,
    actor: AbstractBaseUser,
    channel: str,
    outcome: str,
    note: str = "",
    at: datetime | None = None,
) -> ContactAttempt:
    """Record a contact attempt. The first one is the handoff's first response."""
    at = at or timezone.now()
    with transaction.atomic():
        handoff = _lock_for_actor(handoff_id=handoff_id, actor=actor)
        if not handoff.is_open:
            raise TransitionConflict(
                ALREADY_CHANGED.format(state=handoff.get_state_display().lower())
            )
        attempt = ContactAttempt.objects.create(
            handoff=handoff,
            channel=channel,
            outcome=outcome,
            note=note,
            attempted_at=at,
            logged_by=actor,
        )
        if handoff.first_response_at is None:
            handoff.first_response_at = at
            handoff.save(update_fields=["first_response_at"])
        HandoffEvent.objects.create(
            handoff=handoff,
            kind=HandoffEvent.Kind.ATTEMPT,
            actor=actor,
            note=f"{channel}: {outcome}",
        )
    logger.info(
        "attempt logged handoff_id=%s attempt_id=%s channel=%s outcome=%s",
        handoff.pk,
        attempt.pk,
        channel,
        outcome,
    )
    return attempt


def handoff_reject(
    *, handoff_id: int, actor: AbstractBaseUser | None, reason_code: str, note: str
) -> Handoff:
    """Give the lead back to marketing with a reason and a note.

    The lead leaves sales and is recycled to nurture or disqualified, as the reason says. A
    rejection answers marketing, so it also ends the wait for a first response. Refused with
    nothing changed when the reason or the note is missing.
    """
    note = (note or "").strip()
    if not reason_code:
        raise HandoffError(REASON_REQUIRED)
    reason = RejectionReason.objects.filter(code=reason_code, active=True).first()
    if reason is None:
        raise HandoffError(REASON_UNKNOWN.format(reason=reason_code))
    if not note:
        raise HandoffError(NOTE_REQUIRED)

    from feedback.services import rejection_record

    now = timezone.now()
    with transaction.atomic():
        lead_id = Handoff.objects.values_list("lead_id", flat=True).get(pk=handoff_id)
        lead = lead_lock(lead_id=lead_id)
        if actor is None:
            handoff = (
                Handoff.objects.select_for_update(of=("self",))
                .select_related("rep")
                .get(pk=handoff_id)
            )
        else:
            handoff = _lock_for_actor(handoff_id=handoff_id, actor=actor)
        _require_transition(handoff, "reject")
        from_state = handoff.state
        handoff.reject()
        handoff.ended_at = now
        handoff.first_response_at = handoff.first_response_at or now
        handoff.save(update_fields=["state", "ended_at", "first_response_at"])
        HandoffEvent.objects.create(
            handoff=handoff,
            kind=HandoffEvent.Kind.REJECTED,
            actor=actor,
            from_state=from_state,
            to_state=handoff.state,
            note=reason.label,
        )
        rejection_record(handoff=handoff, lead=lead, reason=reason, note=note, actor=actor)
        lead_transition(lead=lead, transition="reject", actor=actor, reason=reason.label)
        outcome = "recycle" if reason.outcome == RejectionOutcome.RECYCLE else "disqualify"
        lead_transition(lead=lead, transition=outcome, actor=actor, reason=reason.label)
    logger.info(
        "handoff rejected handoff_id=%s reason=%s outcome=%s", handoff.pk, reason.code, outcome
    )
    return handoff


def lead_bant_update(*, handoff_id: int, actor: AbstractBaseUser, bant: dict) -> Lead:
    """Save what the rep learned about budget, authority, need and timeline."""
    unknown = set(bant) - set(BANT_FIELDS)
    if unknown:
        raise HandoffError(f"Unknown BANT fields: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        lead_id = Handoff.objects.values_list("lead_id", flat=True).get(pk=handoff_id)
        lead = lead_lock(lead_id=lead_id)
        _lock_for_actor(handoff_id=handoff_id, actor=actor)
        for name, value in bant.items():
            setattr(lead, name, value)
        lead.save(update_fields=[*bant, "updated_at"])
    logger.info("bant updated lead_id=%s fields=%s", lead.pk, ",".join(sorted(bant)))
    return lead


def handoff_qualify(*, handoff_id: int, actor: AbstractBaseUser) -> Handoff:
    """Make the lead SQL: sales accepted it, BANT is confirmed and it is ready for a demo.

    Refused with the list of what is missing, and nothing changed, otherwise.
    """
    with transaction.atomic():
        lead_id = Handoff.objects.values_list("lead_id", flat=True).get(pk=handoff_id)
        lead = lead_lock(lead_id=lead_id)
        handoff = _lock_for_actor(handoff_id=handoff_id, actor=actor)
        if not handoff.is_open:
            raise TransitionConflict(
                ALREADY_CHANGED.format(state=handoff.get_state_display().lower())
            )
        missing = bant_missing(lead)
        if handoff.state != HandoffState.ACCEPTED:
            missing.insert(0, "accepted by sales")
        if missing:
            raise TransitionRefused(SQL_MISSING.format(missing=", ".join(missing)))
        from_state = handoff.state
        handoff.qualify()
        handoff.ended_at = timezone.now()
        handoff.save(update_fields=["state", "ended_at"])
        HandoffEvent.objects.create(
            handoff=handoff,
            kind=HandoffEvent.Kind.QUALIFIED,
            actor=actor,
            from_state=from_state,
            to_state=handoff.state,
        )
        lead_transition(lead=lead, transition="qualify_sql", actor=actor, reason="BANT confirmed")
    logger.info("handoff qualified handoff_id=%s lead_id=%s", handoff.pk, lead.pk)
    return handoff


OPPORTUNITY_MISSING = "This lead cannot go to an account executive yet. Missing: {missing}."
NOT_AN_ACCOUNT_EXECUTIVE = "Choose an active account executive."


def lead_open_opportunity(
    *, lead_id: int, actor: AbstractBaseUser, account_executive_id: int
) -> Lead:
    """Hand an SQL to an account executive as an opportunity, once its required CRM fields
    are complete. Refused with the list of what is missing, and nothing changed, otherwise."""
    executive = (
        get_user_model()
        .objects.filter(
            pk=account_executive_id, is_active=True, groups__name=roles.ACCOUNT_EXECUTIVE
        )
        .first()
    )
    if executive is None:
        raise HandoffError(NOT_AN_ACCOUNT_EXECUTIVE)
    with transaction.atomic():
        lead = lead_lock(lead_id=lead_id)
        handoff = lead.handoffs.select_related("rep__team").order_by("-assigned_at", "-pk").first()
        if handoff is None or not actor_may_act(handoff=handoff, actor=actor):
            raise PermissionRefused(NOT_YOURS)
        missing = missing_required_fields(lead=lead, point=HandoffPoint.TO_ACCOUNT_EXECUTIVE)
        if missing:
            raise TransitionRefused(OPPORTUNITY_MISSING.format(missing=", ".join(missing)))
        lead.account_executive = executive
        lead_transition(
            lead=lead,
            transition="open_opportunity",
            actor=actor,
            reason=f"handed to account executive {executive.pk}",
        )
        lead.save(update_fields=["account_executive", "updated_at"])
        notification_create(
            recipient=executive,
            kind="opportunity_handed_over",
            key=f"opportunity:{lead.pk}",
            title=f"New opportunity: {lead.display_name}",
            body="Sales qualified it; the packet has the pain, context and BANT.",
            url=reverse("handoff-detail", args=[handoff.pk]),
        )
    logger.info("opportunity opened lead_id=%s account_executive_id=%s", lead.pk, executive.pk)
    return lead


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
