from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Q

from leads.criteria import email_domain_kind, split_choices
from leads.models import Lead, Stage
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
    since_monday = Q()
    for rep in reps:
        since_monday |= Q(rep_id=rep.pk, assigned_at__gte=week_start(at=now, tz=rep.timezone))
    rows = (
        Handoff.objects.filter(since_monday)
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
        same_account |= Q(lead__email__iendswith=f"@{domain}")
    if lead.company.strip():
        same_account |= Q(lead__company__iexact=lead.company.strip())
    if not same_account:
        return None
    handoff = (
        Handoff.objects.filter(same_account, lead__stage__in=OWNED_STAGES)
        .exclude(lead_id=lead.pk)
        .exclude(state__in=("rejected", "reassigned", "returned"))
        .select_related("rep")
        .order_by("-assigned_at", "-pk")
        .first()
    )
    return handoff.rep if handoff else None
