from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncWeek

from leads.criteria import email_domain_kind, split_choices
from leads.models import Lead, LeadEvent, Stage, email_domain_expression
from reps.models import Rep, RoutingRule


def week_start(*, at: datetime, tz: str) -> datetime:
    """Monday 00:00 of the week containing `at`, in the given timezone."""
    local = at.astimezone(ZoneInfo(tz))
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, datetime.min.time(), tzinfo=ZoneInfo(tz))


def rep_assigned_this_week(*, reps: Sequence[Rep], now: datetime) -> dict[int, int]:
    """How many handoffs each rep was given since Monday 00:00 of their own week: one
    aggregate query over the (rep, assigned_at) index, whatever the number of handoffs."""
    from handoff.models import Handoff

    if not reps:
        return {}
    # Reps who share a timezone share a Monday, so the condition has one branch per
    # timezone in use, not one per rep: routing asks this at every pick.
    by_timezone: dict[str, list[int]] = {}
    for rep in reps:
        by_timezone.setdefault(rep.timezone, []).append(rep.pk)
    since_monday = Q()
    for tz, rep_ids in by_timezone.items():
        since_monday |= Q(rep_id__in=rep_ids, assigned_at__gte=week_start(at=now, tz=tz))
    rows = (
        Handoff.objects.filter(since_monday)
        .order_by()
        .values("rep_id")
        .annotate(count=Count("pk"))
        .values_list("rep_id", "count")
    )
    return dict(rows)


def rep_awaiting_first_response(*, reps: Sequence[Rep]) -> dict[int, int]:
    """How many open handoffs each rep holds that still wait for a first response."""
    from handoff.models import Handoff

    if not reps:
        return {}
    rows = (
        Handoff.objects.awaiting_first_response()
        .filter(rep_id__in=[rep.pk for rep in reps])
        .order_by()
        .values("rep_id")
        .annotate(count=Count("pk"))
        .values_list("rep_id", "count")
    )
    return dict(rows)


def rep_local_now(*, rep: Rep, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(rep.timezone))


def routing_rule_for(*, lead: Lead) -> RoutingRule | None:
    """The first active routing rule whose conditions all hold for the lead."""
    rules = (
        RoutingRule.objects.filter(active=True)
        .prefetch_related("sources")
        .order_by("position", "pk")
    )
    return next((rule for rule in rules if routing_rule_matches(rule=rule, lead=lead)), None)


def routing_rule_matches(*, rule: RoutingRule, lead: Lead) -> bool:
    """Whether every condition a rule sets holds for the lead; an empty condition always holds."""
    countries = split_choices(rule.countries)
    if countries and lead.country.strip().casefold() not in countries:
        return False
    industries = split_choices(rule.industries)
    if industries and lead.industry.strip().casefold() not in industries:
        return False
    source_ids = {source.pk for source in rule.sources.all()}
    if source_ids and lead.source_id not in source_ids:
        return False
    if rule.min_company_size is not None or rule.max_company_size is not None:
        if lead.company_size is None:
            return False
        if rule.min_company_size is not None and lead.company_size < rule.min_company_size:
            return False
        if rule.max_company_size is not None and lead.company_size > rule.max_company_size:
            return False
    return rule.min_score is None or lead.score >= rule.min_score


# Stages in which a lead's company counts as owned by the rep who works it.
OWNED_STAGES = (Stage.MQL, Stage.SQL, Stage.OPPORTUNITY)


def account_owner_for(*, lead: Lead) -> Rep | None:
    """The rep who already works this lead's company: an open handoff or an open opportunity
    for another lead with the same company email domain (webmail does not count) or the same
    company name."""
    from handoff.models import Handoff

    same_account = Q()
    domain = lead.email_domain
    if domain and email_domain_kind(domain) == "company":
        # Compared through the expression that the lead_email_domain index holds: a suffix
        # match would read every open lead at every assignment.
        same_account |= Q(lead_domain=domain, lead__email__contains="@")
    if lead.company.strip():
        same_account |= Q(lead__company__iexact=lead.company.strip())
    if not same_account:
        return None
    handoff = (
        Handoff.objects.annotate(lead_domain=email_domain_expression("lead__email"))
        .filter(same_account, lead__stage__in=OWNED_STAGES)
        .exclude(lead_id=lead.pk)
        .exclude(state__in=("rejected", "reassigned", "returned"))
        .select_related("rep")
        .order_by("-assigned_at", "-pk")
        .first()
    )
    return handoff.rep if handoff else None


@dataclass(frozen=True)
class _AccountHandoff:
    # Orders handoffs as account_owner_for does, newest first: handoffs written by the batch
    # (fresh = 1) come after every stored one assigned at the same time, as their ids would.
    order: tuple[datetime, int, int]
    rep_id: int
    lead_id: int
    # Whether the lead's stage already made it an owner when the batch started.
    owned: bool


class AccountOwners:
    """account_owner_for for a batch of leads handed off one after the other, from one query.

    Built before the batch changes anything, with `leads` in the order the batch handles them.
    A lead of the batch owns its account from its own turn on (it becomes MQL then), and each
    handoff the batch makes is recorded, so that a later lead of the same account finds it, as
    it would have found it in the database had the leads been handed off one by one.
    """

    def __init__(self, *, leads: Sequence[Lead]) -> None:
        from handoff.models import Handoff

        self.position = {lead.pk: index for index, lead in enumerate(leads)}
        self.by_domain: dict[str, list[_AccountHandoff]] = {}
        self.by_company: dict[str, list[_AccountHandoff]] = {}
        self.written = 0
        self.rep_ids: set[int] = set()
        domains = {
            lead.email_domain
            for lead in leads
            if lead.email_domain and email_domain_kind(lead.email_domain) == "company"
        }
        companies = {lead.company.strip() for lead in leads if lead.company.strip()}
        same_account = Q()
        if domains:
            same_account |= Q(lead_domain__in=domains, lead__email__contains="@")
        for company in companies:
            same_account |= Q(lead__company__iexact=company)
        if not same_account:
            return
        rows = (
            Handoff.objects.annotate(lead_domain=email_domain_expression("lead__email"))
            .filter(same_account)
            .filter(Q(lead__stage__in=OWNED_STAGES) | Q(lead_id__in=list(self.position)))
            .exclude(state__in=("rejected", "reassigned", "returned"))
            .values_list(
                "pk", "assigned_at", "rep_id", "lead_id", "lead__stage", "lead__email",
                "lead__company",
            )
        )  # fmt: skip
        for pk, assigned_at, rep_id, lead_id, stage, email, company in rows:
            self.rep_ids.add(rep_id)
            self._add(
                _AccountHandoff((assigned_at, 0, pk), rep_id, lead_id, stage in OWNED_STAGES),
                email=email,
                company=company,
            )

    def _add(self, handoff: _AccountHandoff, *, email: str, company: str) -> None:
        # Keyed as the query compares: the lowercased text after the first "@" (only for an
        # email that has one), and the company as stored, compared without case.
        if "@" in email:
            self.by_domain.setdefault(email.partition("@")[2].lower(), []).append(handoff)
        self.by_company.setdefault(company.upper(), []).append(handoff)

    def owner_id_for(self, *, lead: Lead) -> int | None:
        """The id of the rep account_owner_for would answer for `lead` at its turn."""
        turn = self.position[lead.pk]
        found: list[_AccountHandoff] = []
        domain = lead.email_domain
        if domain and email_domain_kind(domain) == "company":
            found += self.by_domain.get(domain, ())
        if lead.company.strip():
            found += self.by_company.get(lead.company.strip().upper(), ())
        candidates = [
            handoff
            for handoff in found
            if handoff.lead_id != lead.pk
            and (handoff.owned or self.position.get(handoff.lead_id, turn) < turn)
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda handoff: handoff.order).rep_id

    def record(self, *, lead: Lead, rep_id: int, now: datetime) -> None:
        """Note the handoff the batch makes of `lead` to the rep, as the newest of all."""
        self.written += 1
        self._add(
            _AccountHandoff((now, 1, self.written), rep_id, lead.pk, owned=True),
            email=lead.email,
            company=lead.company,
        )


@dataclass(frozen=True)
class SimulatedRep:
    rep: Rep
    # The round-robin credit stored now, and what it would be at this pick before the winner
    # pays back the total weight: the pick goes to the highest.
    credit: float
    credit_at_pick: float
    assigned_this_week: int


@dataclass(frozen=True)
class RoutingSimulation:
    route: str
    rule: RoutingRule | None
    pick: Rep | None
    eligible: list[SimulatedRep]
    skipped: list[tuple[Rep, str]]


def routing_simulate(*, lead: Lead, now: datetime) -> RoutingSimulation:
    """What routing would do with this lead at `now`, without doing it.

    The lead may be unsaved. Routing runs in dry-run mode inside a transaction that is always
    rolled back, so even the row locks it takes are released and nothing is written.
    """
    from reps.services import rep_route

    with transaction.atomic():
        decision = rep_route(lead=lead, now=now, dry_run=True)
        transaction.set_rollback(True)

    eligible_ids = [rep.pk for rep in decision.eligible]
    credits = dict(Rep.objects.filter(pk__in=eligible_ids).values_list("pk", "routing_credit"))
    loads = rep_assigned_this_week(reps=decision.eligible, now=now)
    eligible = [
        SimulatedRep(
            rep=rep,
            credit=credits[rep.pk],
            credit_at_pick=credits[rep.pk] + rep.weekly_capacity,
            assigned_this_week=loads.get(rep.pk, 0),
        )
        for rep in decision.eligible
    ]
    skipped_ids = dict(decision.skipped)
    if decision.route != "account owner":
        # Routing never looks at inactive reps; RevOps asking "why not them?" should see them.
        for pk in _inactive_in_pool(decision.rule):
            skipped_ids.setdefault(pk, "inactive")
    skipped_reps = Rep.objects.select_related("user").in_bulk(list(skipped_ids))
    skipped = sorted(
        ((skipped_reps[pk], reason) for pk, reason in skipped_ids.items()),
        key=lambda row: str(row[0]),
    )
    return RoutingSimulation(
        route=decision.route,
        rule=decision.rule,
        pick=decision.rep,
        eligible=eligible,
        skipped=skipped,
    )


def _inactive_in_pool(rule: RoutingRule | None) -> list[int]:
    """The inactive reps a rule would route to if they were active: the same pool as
    reps.services.rule_candidates, before it keeps the active ones."""
    inactive = Rep.objects.exclude(pk__in=Rep.objects.active().values("pk"))
    if rule is not None:
        named = list(rule.reps.values_list("pk", flat=True))
        if rule.team_id is not None or named:
            inactive = inactive.filter(Q(team_id=rule.team_id) | Q(pk__in=named))
    return list(inactive.values_list("pk", flat=True))


@dataclass(frozen=True)
class RepWeek:
    week: str  # ISO year and week, e.g. 2026-W49
    assigned: int
    capacity: int

    @property
    def percent(self) -> int:
        return round(100 * self.assigned / self.capacity) if self.capacity else 0


@dataclass(frozen=True)
class RepCapacity:
    rep: Rep
    weeks: list[RepWeek]


def rep_capacity_by_week(*, now: datetime, weeks: int = 4) -> list[RepCapacity]:
    """Handoffs each rep was given in each of the last `weeks` ISO weeks (this one included)
    against their weekly capacity.

    Weeks run Monday to Sunday in each rep's own timezone, as the routing cap counts them. The
    counts come from one aggregate per timezone in use. Capacity is today's setting: past
    weeks are measured against it too. Reps shown are the active ones and any who had a
    handoff in the period.
    """
    from handoff.models import Handoff

    earliest = now - timedelta(weeks=weeks, days=1)
    recent = Handoff.objects.filter(assigned_at__gte=earliest).values("rep_id")
    reps = list(
        Rep.objects.filter(Q(active=True, user__is_active=True) | Q(pk__in=recent)).select_related(
            "user"
        )
    )
    starts = {
        rep.pk: [
            (week_start(at=now, tz=rep.timezone) - timedelta(weeks=back)).date()
            for back in range(weeks - 1, -1, -1)
        ]
        for rep in reps
    }
    counts: dict[tuple[int, date], int] = {}
    for tz in {rep.timezone for rep in reps}:
        in_tz = [rep for rep in reps if rep.timezone == tz]
        since = week_start(at=now, tz=tz) - timedelta(weeks=weeks - 1)
        rows = (
            Handoff.objects.filter(rep__in=in_tz, assigned_at__gte=since)
            .annotate(week=TruncWeek("assigned_at", tzinfo=ZoneInfo(tz)))
            .order_by()
            .values("rep_id", "week")
            .annotate(count=Count("pk"))
            .values_list("rep_id", "week", "count")
        )
        for rep_id, week, count in rows:
            counts[rep_id, week.date()] = count

    def iso(day: date) -> str:
        year, number, _ = day.isocalendar()
        return f"{year}-W{number:02d}"

    return [
        RepCapacity(
            rep=rep,
            weeks=[
                RepWeek(
                    week=iso(start),
                    assigned=counts.get((rep.pk, start), 0),
                    capacity=rep.weekly_capacity,
                )
                for start in starts[rep.pk]
            ],
        )
        for rep in reps
    ]


@dataclass(frozen=True)
class MqlProjection:
    # MQLs in each of the complete weeks looked at, oldest first, as (ISO week, count).
    weekly: list[tuple[str, int]]
    per_week: float
    capacity: int

    @property
    def percent(self) -> int:
        return round(100 * self.per_week / self.capacity) if self.capacity else 0


def mql_volume_projection(*, now: datetime, weeks: int = 4) -> MqlProjection:
    """Next week's MQL volume projected as the average of the last `weeks` complete weeks
    (Monday to Sunday, in the site's timezone), against the weekly capacity of the active reps.

    Every MQL event counts, so a recycled lead qualifying again counts again: it needs a rep
    again.
    """
    this_week = week_start(at=now, tz=settings.TIME_ZONE)
    first = this_week - timedelta(weeks=weeks)
    rows = (
        LeadEvent.objects.filter(
            to_stage=Stage.MQL, created_at__gte=first, created_at__lt=this_week
        )
        .annotate(week=TruncWeek("created_at", tzinfo=ZoneInfo(settings.TIME_ZONE)))
        .order_by()
        .values("week")
        .annotate(count=Count("pk"))
        .values_list("week", "count")
    )
    by_week = {week.date(): count for week, count in rows}
    weekly = []
    for back in range(weeks, 0, -1):
        start = (this_week - timedelta(weeks=back)).date()
        year, number, _ = start.isocalendar()
        weekly.append((f"{year}-W{number:02d}", by_week.get(start, 0)))
    return MqlProjection(
        weekly=weekly,
        per_week=sum(count for _, count in weekly) / weeks,
        capacity=rep_weekly_capacity_total(),
    )


def rep_weekly_capacity_total() -> int:
    """New leads the active reps can take in a week, all together."""
    return Rep.objects.active().aggregate(total=Sum("weekly_capacity"))["total"] or 0
