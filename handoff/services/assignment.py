"""Giving leads to reps: assignment by routing, reassignment, and the waiting queue.

Locks are always taken in the order lead, handoff, rep.
"""

import logging
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone

from handoff import roles
from handoff.business_hours import BusinessCalendar
from handoff.documentation import missing_required_fields
from handoff.errors import HandoffError, PermissionRefused
from handoff.models import (
    DEFAULT_FIRST_RESPONSE_HOURS,
    Handoff,
    HandoffEvent,
    HandoffPoint,
    SlaPolicy,
)
from handoff.notifications import NotificationDraft, notification_create
from handoff.selectors import waiting_episode_id
from handoff.services.common import (
    actor_may_act,
    company_days_off,
    require_transition,
    sla_policy_for,
)
from handoff.sla import DEFAULT_POLICY, deadline_for_rep, sla_steps
from leads.models import Lead
from leads.services import lead_lock
from reps.models import Rep
from reps.services import rep_route

logger = logging.getLogger(__name__)


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
    decision = rep_route(lead=lead, now=now, days_off=days_off)
    if decision.rep is None:
        logger.warning("no eligible rep lead_id=%s skipped=%s", lead.pk, len(decision.skipped))
        managers_alert_routing_exhausted()
        return None
    return handoff_open(
        lead=lead, rep=decision.rep, actor=actor, now=now, policy=policy, days_off=days_off
    )


def handoff_open(
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
    handoff = handoff_build(
        lead=lead,
        rep=rep,
        actor=actor,
        now=now,
        policy=policy,
        calendar=rep.calendar(days_off=days_off),
        previous=previous,
    )
    handoff.save(force_insert=True)
    handoff_assigned_event(handoff=handoff, actor=actor).save(force_insert=True)
    notice = handoff_assigned_notice(handoff=handoff)
    notification_create(
        recipient=notice.recipient,
        kind=notice.kind,
        key=notice.key,
        title=notice.title,
        body=notice.body,
        url=notice.url,
    )
    handoff_log_assigned(handoff)
    return handoff


def handoff_build(
    *,
    lead: Lead,
    rep: Rep,
    actor: AbstractBaseUser | None,
    now: datetime,
    policy: SlaPolicy | None,
    calendar: BusinessCalendar,
    previous: Handoff | None = None,
) -> Handoff:
    """The unsaved handoff of `lead` to `rep` at `now`: its deadline and first SLA check on
    the rep's `calendar`. Pure, so that a batch builds many before one insert."""
    hours = policy.first_response_hours if policy else DEFAULT_FIRST_RESPONSE_HOURS
    handoff = Handoff(
        lead=lead,
        rep=rep,
        policy=policy,
        first_response_hours=hours,
        assigned_at=now,
        due_at=calendar.add(now, timedelta(hours=hours)),
        previous=previous,
    )
    # Only the system reassigns without an actor, and only when the escalation chain says so.
    steps = sla_steps(
        handoff=handoff,
        policy=policy or DEFAULT_POLICY,
        calendar=calendar,
        reassigned_by_sla=previous is not None and actor is None,
    )
    handoff.next_check_at = steps[0].at if steps else None
    return handoff


def handoff_assigned_event(*, handoff: Handoff, actor: AbstractBaseUser | None) -> HandoffEvent:
    """The unsaved audit row of a new handoff."""
    hours = handoff.first_response_hours
    return HandoffEvent(
        handoff=handoff,
        kind=HandoffEvent.Kind.ASSIGNED,
        actor=actor,
        to_state=handoff.state,
        note=f"first response due within {hours} business hour{pluralize(hours)}",
    )


def handoff_assigned_notice(*, handoff: Handoff) -> NotificationDraft:
    """The notification that tells the rep of a new handoff, which must be saved."""
    rep = handoff.rep
    return NotificationDraft(
        recipient=rep.user,
        kind="handoff_assigned",
        key=f"handoff-assigned:{handoff.pk}",
        title=f"New lead: {handoff.lead.display_name}",
        body=f"Respond by {deadline_for_rep(at=handoff.due_at, rep=rep)}.",
        url=reverse("handoff-detail", args=[handoff.pk]),
    )


def handoff_log_assigned(handoff: Handoff) -> None:
    logger.info(
        "handoff assigned handoff_id=%s lead_id=%s rep_id=%s hours=%s previous_id=%s",
        handoff.pk,
        handoff.lead_id,
        handoff.rep_id,
        handoff.first_response_hours,
        handoff.previous_id,
    )


def managers_alert_routing_exhausted() -> None:
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
        require_transition(old, "hand_over")
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
        old.next_check_at = None
        old.save(update_fields=["state", "ended_at", "next_check_at"])
        HandoffEvent.objects.create(
            handoff=old,
            kind=HandoffEvent.Kind.REASSIGNED,
            actor=actor,
            from_state=from_state,
            to_state=old.state,
            note=reason[:300],
        )
        new = handoff_open(
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
