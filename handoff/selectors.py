from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Min, Q, QuerySet
from django.http import Http404

from handoff import roles
from handoff.models import (
    OPEN_HANDOFF_STATES,
    Escalation,
    Handoff,
    HandoffEvent,
    HandoffState,
)


def handoff_ids_due_for_check(
    *, now: datetime, after_id: int = 0, limit: int, lock: bool = False
) -> list[int]:
    """Open handoffs whose next SLA check has come, in id order so that a sweep can page
    through them. Served by the partial index on next_check_at.

    With `lock`, call it inside a transaction: the rows found stay locked until it ends, and
    rows another transaction holds (a check in progress, a rep's action) are skipped.
    """
    due = Handoff.objects.open().filter(next_check_at__lte=now, pk__gt=after_id).order_by("pk")
    if lock:
        due = due.select_for_update(skip_locked=True)
    return list(due.values_list("pk", flat=True)[:limit])


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


# The work queue pages by keyset: each page starts after the (due_at, id) of the previous
# page's last row. A handoff's deadline never changes once set, so rows that stay in the queue
# keep their place and are neither shown twice nor skipped when others leave between pages.
QUEUE_PAGE_SIZE = 25
_CURSOR_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"


@dataclass(frozen=True)
class QueueCursor:
    due_at: datetime
    pk: int

    def encode(self) -> str:
        return f"{self.due_at.astimezone(UTC).strftime(_CURSOR_TIME_FORMAT)}_{self.pk}"

    @classmethod
    def decode(cls, text: str) -> "QueueCursor":
        """The cursor a link carried; ValueError when it is not one this module wrote."""
        moment, separator, pk = text.partition("_")
        if not separator or not pk.isdigit():
            raise ValueError(f"'{text}' is not a queue position")
        due_at = datetime.strptime(moment, _CURSOR_TIME_FORMAT).replace(tzinfo=UTC)
        return cls(due_at=due_at, pk=int(pk))


@dataclass(frozen=True)
class QueuePage:
    handoffs: list[Handoff]
    next_cursor: QueueCursor | None


def handoff_queue_page(
    *, handoffs: QuerySet[Handoff], after: QueueCursor | None = None, size: int = QUEUE_PAGE_SIZE
) -> QueuePage:
    """One page of `handoffs` by deadline then id, starting after the cursor. One query: it
    reads one row more than the page to know whether another page follows."""
    if after is not None:
        handoffs = handoffs.filter(
            Q(due_at__gt=after.due_at) | Q(due_at=after.due_at, pk__gt=after.pk)
        )
    rows = list(handoffs.order_by("due_at", "pk")[: size + 1])
    if len(rows) <= size:
        return QueuePage(handoffs=rows, next_cursor=None)
    last = rows[size - 1]
    return QueuePage(handoffs=rows[:size], next_cursor=QueueCursor(due_at=last.due_at, pk=last.pk))


def handoff_queue_counts(*, handoffs: QuerySet[Handoff], now: datetime) -> dict[str, int]:
    """The queue's counters in one aggregate: past the deadline and due within the hour (both
    still waiting for a first response), new (assigned, not accepted yet) and all open."""
    from handoff.templatetags.handoff_tags import DUE_SOON

    waiting = Q(first_response_at__isnull=True)
    return handoffs.order_by().aggregate(
        breached=Count("pk", filter=waiting & Q(due_at__lte=now)),
        due_soon=Count("pk", filter=waiting & Q(due_at__gt=now, due_at__lte=now + DUE_SOON)),
        new=Count("pk", filter=Q(state=HandoffState.ASSIGNED)),
        total=Count("pk"),
    )


def handoff_get_for_reader(*, handoff_id: int, user: AbstractBaseUser) -> Handoff:
    """Like handoff_get_for_user, and an account executive may also read the packet of a lead
    handed to them."""
    visible = _visible_to(user)
    if roles.has_role(user, roles.ACCOUNT_EXECUTIVE):
        visible |= Q(lead__account_executive=user)
    handoff = (
        Handoff.objects.filter(visible, pk=handoff_id)
        .select_related("lead__source", "lead__account_executive", "rep__user", "rep__team")
        .first()
    )
    if handoff is None:
        raise Http404("No such handoff.")
    return handoff


def handoff_history(*, lead_id: int) -> list[dict]:
    """Everything that happened to a lead in sales, oldest first: the events of each of its
    handoffs and its stage changes, as who / what / when / why."""
    from leads.models import LeadEvent

    entries = [
        {
            "at": event.created_at,
            "actor": event.actor,
            "what": event.get_kind_display(),
            "why": event.note,
            "kind": "handoff",
            "handoff_id": event.handoff_id,
        }
        for event in HandoffEvent.objects.filter(handoff__lead_id=lead_id).select_related("actor")
    ]
    entries += [
        {
            "at": event.created_at,
            "actor": event.actor,
            "what": f"{event.get_from_stage_display()} → {event.get_to_stage_display()}",
            "why": event.reason,
            "kind": "stage",
            "handoff_id": None,
        }
        for event in LeadEvent.objects.filter(lead_id=lead_id).select_related("actor")
    ]
    return sorted(entries, key=lambda entry: entry["at"])


def reps_for_manager(*, user: AbstractBaseUser) -> QuerySet:
    """The active reps a manager looks after (their own and their teams'); every active rep
    for RevOps."""
    from reps.models import Rep

    reps = Rep.objects.active().select_related("user", "team")
    if roles.has_role(user, roles.REVOPS):
        return reps
    return reps.filter(Q(manager=user) | Q(team__manager=user))


def rep_open_counts(*, rep_ids: list[int]) -> dict[int, int]:
    """Open handoffs per rep, in one aggregate over the open-queue index."""
    rows = (
        Handoff.objects.open()
        .filter(rep_id__in=rep_ids)
        .order_by()
        .values("rep_id")
        .annotate(count=Count("pk"))
        .values_list("rep_id", "count")
    )
    return dict(rows)


def required_field_checklist(*, lead, point: str) -> list[dict]:  # noqa: ANN001
    """Each active required field at a handoff point, and whether the lead has it, in admin
    order: the same test as handoff.documentation.missing_required_fields."""
    from handoff.documentation import REQUIRABLE_FIELDS
    from handoff.models import RequiredField

    checklist = []
    for required in RequiredField.objects.filter(point=point, active=True):
        value = getattr(lead, required.field, None)
        checklist.append(
            {
                "label": required.label or REQUIRABLE_FIELDS.get(required.field, required.field),
                "field": required.field,
                "done": not (value is None or (isinstance(value, str) and not value.strip())),
            }
        )
    return checklist


def sql_checklist(*, handoff: Handoff) -> list[dict]:
    """What handoff_qualify asks before a lead becomes SQL, each marked done or not: sales
    accepted it, each part of BANT is confirmed, and it is ready for a demo or proposal."""
    from leads.models import BANT_PARTS, BantStatus

    lead = handoff.lead
    return [
        {
            "label": "Accepted by sales",
            "done": handoff.state in (HandoffState.ACCEPTED, HandoffState.QUALIFIED),
        },
        *(
            {
                "label": part.capitalize(),
                "done": getattr(lead, f"{part}_status") == BantStatus.CONFIRMED,
            }
            for part in BANT_PARTS
        ),
        {"label": "Ready for a demo or proposal", "done": lead.ready_for_demo},
    ]


# What a row of the work queue shows of its lead. The rest (the score breakdown, attributes,
# the packet's notes) can weigh kilobytes per lead and stays in the database.
QUEUE_LEAD_FIELDS = (
    "lead__first_name",
    "lead__last_name",
    "lead__company",
    "lead__external_id",
    "lead__job_title",
    "lead__campaign",
    "lead__score",
    "lead__stage",
    "lead__source__name",
)


def handoff_queue_for_rep(*, rep_id: int | None) -> QuerySet[Handoff]:
    """A rep's open handoffs with what the queue shows, most urgent first. Filtering on the
    rep's id, rather than through the user, lets PostgreSQL read the open-queue index in
    deadline order and stop at the end of the page."""
    if rep_id is None:
        return Handoff.objects.none()
    return (
        Handoff.objects.open()
        .filter(rep_id=rep_id)
        .select_related("lead__source")
        .only(
            "lead_id",
            "rep_id",
            "state",
            "assigned_at",
            "due_at",
            "accepted_at",
            "first_response_at",
            "ended_at",
            *QUEUE_LEAD_FIELDS,
        )
        .order_by("due_at", "pk")
    )
