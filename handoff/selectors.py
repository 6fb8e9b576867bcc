from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Min, Q, QuerySet
from django.http import Http404

from handoff import roles
from handoff.models import OPEN_HANDOFF_STATES, Escalation, EscalationLevel, Handoff


def handoff_ids_overdue(*, now: datetime, after_id: int = 0, limit: int) -> list[int]:
    """Open handoffs with no first response whose deadline has passed and that have not been
    escalated yet, in id order so that a sweep can page through them."""
    return list(
        Handoff.objects.awaiting_first_response()
        .filter(due_at__lte=now, pk__gt=after_id)
        .exclude(escalations__level=EscalationLevel.MANAGER_ALERT)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def mql_waiting_ids(*, limit: int) -> list[int]:
    """MQLs with no open handoff (routing found nobody), oldest first."""
    from leads.models import Lead, Stage

    return list(
        Lead.objects.filter(stage=Stage.MQL)
        .exclude(handoffs__state__in=OPEN_HANDOFF_STATES)
        .order_by("mql_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def waiting_episode_id() -> int:
    """Names the current spell of MQLs waiting for a rep: the id of the oldest stage event
    that made a still-waiting lead MQL. New waiting leads never change it (their events come
    later); it changes only once the leads that started the spell have been placed."""
    from leads.models import LeadEvent, Stage

    oldest = (
        LeadEvent.objects.filter(to_stage=Stage.MQL, lead__stage=Stage.MQL)
        .exclude(lead__handoffs__state__in=OPEN_HANDOFF_STATES)
        .aggregate(oldest=Min("pk"))["oldest"]
    )
    return oldest or 0


def _visible_to(user: AbstractBaseUser) -> Q:
    """Handoffs a user may see: their own; their team's for a manager; all for RevOps."""
    if roles.has_role(user, roles.REVOPS):
        return Q()
    visible = Q(rep__user=user)
    if roles.has_role(user, roles.MANAGER):
        visible |= Q(rep__manager=user) | Q(rep__team__manager=user)
    return visible


def handoff_queue_for_user(*, user: AbstractBaseUser) -> QuerySet[Handoff]:
    """The rep's open handoffs, most urgent deadline first."""
    return (
        Handoff.objects.open()
        .filter(rep__user=user)
        .select_related("lead__source", "rep__user")
        .order_by("due_at", "pk")
    )


def handoff_get_for_user(*, handoff_id: int, user: AbstractBaseUser) -> Handoff:
    """The handoff, or 404 when it does not exist or the user may not see it: never a leak."""
    handoff = (
        Handoff.objects.filter(_visible_to(user), pk=handoff_id)
        .select_related("lead__source", "rep__user", "rep__team")
        .first()
    )
    if handoff is None:
        raise Http404("No such handoff.")
    return handoff


def team_handoffs_for_manager(*, user: AbstractBaseUser) -> QuerySet[Handoff]:
    return (
        Handoff.objects.open()
        .filter(_visible_to(user))
        .select_related("lead__source", "rep__user")
        .order_by("due_at", "pk")
    )


def escalations_for_manager(*, user: AbstractBaseUser) -> QuerySet[Escalation]:
    visible = Q() if roles.has_role(user, roles.REVOPS) else Q(notified=user)
    return (
        Escalation.objects.filter(visible)
        .select_related("handoff__lead", "rep__user")
        .order_by("-created_at")
    )
