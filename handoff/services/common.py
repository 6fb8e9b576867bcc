"""What the handoff services share: who may act, locking, the policy and calendar inputs."""

import logging
from collections.abc import Iterable
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django_fsm import can_proceed

from handoff import roles
from handoff.errors import PermissionRefused, TransitionConflict
from handoff.models import Escalation, EscalationLevel, Handoff, SlaPolicy
from handoff.sla import DEFAULT_POLICY, Step, sla_steps
from leads.models import Lead
from reps.models import CompanyDayOff

logger = logging.getLogger(__name__)

NOT_YOURS = "You can only act on handoffs you own or manage."
ALREADY_CHANGED = "This handoff is already {state}; reload the page to see its current state."


def sla_policy_for(*, lead: Lead) -> SlaPolicy | None:
    return sla_policy_matching(lead=lead, policies=sla_policies_active())


def sla_policies_active() -> list[SlaPolicy]:
    return list(SlaPolicy.objects.filter(active=True).order_by("position", "pk"))


def sla_policy_matching(*, lead: Lead, policies: Iterable[SlaPolicy]) -> SlaPolicy | None:
    """The first of the active `policies` (in their order) that matches the lead."""
    for policy in policies:
        if policy.source_id and policy.source_id != lead.source_id:
            continue
        if policy.min_score is not None and lead.score < policy.min_score:
            continue
        return policy
    return None


def company_days_off() -> frozenset[date]:
    return frozenset(CompanyDayOff.objects.values_list("day", flat=True))


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


def lock_for_actor(*, handoff_id: int, actor: AbstractBaseUser) -> Handoff:
    handoff = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("rep__team")
        .get(pk=handoff_id)
    )
    if not actor_may_act(handoff=handoff, actor=actor):
        raise PermissionRefused(NOT_YOURS)
    return handoff


def require_transition(handoff: Handoff, method_name: str) -> None:
    if not can_proceed(getattr(handoff, method_name)):
        raise TransitionConflict(ALREADY_CHANGED.format(state=handoff.get_state_display().lower()))


def sla_schedule(handoff: Handoff) -> list[Step]:
    """The handoff's SLA steps on its rep's calendar (see handoff.sla)."""
    policy = handoff.policy or DEFAULT_POLICY
    calendar = handoff.rep.calendar(days_off=company_days_off())
    reassigned_by_sla = bool(
        handoff.previous_id
        and Escalation.objects.filter(
            handoff_id=handoff.previous_id, level=EscalationLevel.REASSIGN
        ).exists()
    )
    return sla_steps(
        handoff=handoff, policy=policy, calendar=calendar, reassigned_by_sla=reassigned_by_sla
    )


def sla_next_check_at(handoff: Handoff) -> datetime | None:
    """When the SLA engine next needs to look at this handoff, given the steps already
    taken; None when nothing is left. Set whenever a handoff is created or answered."""
    if not handoff.is_open:
        return None
    done = set(handoff.escalations.values_list("level", flat=True)) if handoff.pk else set()
    pending = [step.at for step in sla_schedule(handoff) if step.level not in done]
    return min(pending) if pending else None
