"""What reps do with a handoff: accept, log attempts, record BANT, qualify, reject, and hand
an SQL to an account executive. Locks are taken in the order lead, handoff, rep.
"""

import logging
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from feedback.models import RejectionOutcome, RejectionReason
from handoff import roles
from handoff.documentation import missing_required_fields
from handoff.errors import HandoffError, PermissionRefused, TransitionConflict, TransitionRefused
from handoff.models import (
    ContactAttempt,
    Handoff,
    HandoffEvent,
    HandoffPoint,
    HandoffState,
)
from handoff.notifications import notification_create
from handoff.services.common import (
    ALREADY_CHANGED,
    NOT_YOURS,
    actor_may_act,
    lock_for_actor,
    require_transition,
    sla_next_check_at,
)
from leads.models import BANT_PARTS, Lead, Stage, bant_missing
from leads.services import SQL_MISSING, lead_lock, lead_transition

logger = logging.getLogger(__name__)

REASON_REQUIRED = "Choose a rejection reason."
REASON_UNKNOWN = "The rejection reason '{reason}' is not an active reason."
BANT_FIELDS = (
    *(f"{part}_{suffix}" for part in BANT_PARTS for suffix in ("status", "note")),
    "ready_for_demo",
    "pain",
    "context",
)
NOTE_REQUIRED = "Add a note: marketing needs to know why the lead was rejected."
# Notes are read by people: a limit keeps a pasted e-mail thread from swamping the pages.
NOTE_MAX_LENGTH = 2000
NOTE_TOO_LONG = f"Keep the note under {NOTE_MAX_LENGTH} characters."


ONLY_THE_REP = (
    "Only the rep who holds this lead can accept it or log contact with it; a manager can "
    "reassign it."
)


def _require_owner(handoff: Handoff, actor: AbstractBaseUser) -> None:
    # Accepting and contacting are the rep's own acts: they stop the rep's clock, so nobody
    # else may do them on the rep's behalf.
    if handoff.rep.user_id != actor.pk:
        raise PermissionRefused(ONLY_THE_REP)


def handoff_accept(*, handoff_id: int, actor: AbstractBaseUser) -> Handoff:
    with transaction.atomic():
        handoff = lock_for_actor(handoff_id=handoff_id, actor=actor)
        _require_owner(handoff, actor)
        require_transition(handoff, "accept")
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
        handoff = lock_for_actor(handoff_id=handoff_id, actor=actor)
        _require_owner(handoff, actor)
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
            # From now on the SLA engine watches the follow-up cadence.
            handoff.next_check_at = sla_next_check_at(handoff)
            handoff.save(update_fields=["first_response_at", "next_check_at"])
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
    if len(note) > NOTE_MAX_LENGTH:
        raise HandoffError(NOTE_TOO_LONG)

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
            handoff = lock_for_actor(handoff_id=handoff_id, actor=actor)
        require_transition(handoff, "reject")
        close_with_rejection(
            handoff=handoff,
            lead=lead,
            reason=reason,
            note=note,
            actor=actor,
            transition="reject",
            event_kind=HandoffEvent.Kind.REJECTED,
            now=now,
        )
    logger.info("handoff rejected handoff_id=%s reason=%s", handoff.pk, reason.code)
    return handoff


def close_with_rejection(
    *,
    handoff: Handoff,
    lead: Lead,
    reason: RejectionReason,
    note: str,
    actor: AbstractBaseUser | None,
    transition: str,
    event_kind: str,
    now: datetime,
) -> None:
    """End a handoff that the caller has locked (with its lead) and give the lead back to
    marketing: the rejection row marketing reviews, then the lead is rejected and recycled
    or disqualified as the reason says.

    A rep's rejection answers marketing, so it counts as the first response; a return by
    the escalation chain does not, since the rep never answered.
    """
    from feedback.services import rejection_record

    from_state = handoff.state
    getattr(handoff, transition)()
    handoff.ended_at = now
    handoff.next_check_at = None
    if transition == "reject":
        handoff.first_response_at = handoff.first_response_at or now
    handoff.save(update_fields=["state", "ended_at", "first_response_at", "next_check_at"])
    HandoffEvent.objects.create(
        handoff=handoff,
        kind=event_kind,
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
        "lead given back handoff_id=%s lead_id=%s reason=%s outcome=%s",
        handoff.pk,
        lead.pk,
        reason.code,
        outcome,
    )


def lead_bant_update(*, handoff_id: int, actor: AbstractBaseUser, bant: dict) -> Lead:
    """Save what the rep learned about budget, authority, need and timeline."""
    unknown = set(bant) - set(BANT_FIELDS)
    if unknown:
        raise HandoffError(f"Unknown BANT fields: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        lead_id = Handoff.objects.values_list("lead_id", flat=True).get(pk=handoff_id)
        lead = lead_lock(lead_id=lead_id)
        handoff = lock_for_actor(handoff_id=handoff_id, actor=actor)
        # The rep documents the lead while working it, and after qualifying it until an
        # account executive takes it: the hand-over may require fields they have yet to fill.
        awaiting_hand_over = handoff.state == HandoffState.QUALIFIED and lead.stage == Stage.SQL
        if not (handoff.is_open or awaiting_hand_over):
            raise TransitionConflict(
                ALREADY_CHANGED.format(state=handoff.get_state_display().lower())
            )
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
        handoff = lock_for_actor(handoff_id=handoff_id, actor=actor)
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
        handoff.next_check_at = None
        handoff.save(update_fields=["state", "ended_at", "next_check_at"])
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
