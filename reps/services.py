"""Routing: which rep gets a lead.

In order: the account's owner, when the lead's company already has one who can take it; then
the first routing rule that matches the lead, whose reps share its leads by smooth weighted
round robin. Each eligible rep earns its weight (weekly capacity) in credit at every pick; the
rep with the most credit wins and pays back the sum of the weights, so over time each rep's
share follows its weight, without bursts. Reps who are not eligible earn nothing, so a rep
back from leave is not flooded to catch up. Among the eligible, reps at work right now come
first.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from leads.models import Lead
from reps.models import Absence, CompanyDayOff, Rep, RoutingRule
from reps.selectors import (
    account_owner_for,
    rep_assigned_this_week,
    rep_awaiting_first_response,
    routing_rule_for,
)

logger = logging.getLogger(__name__)


@dataclass
class RoutingDecision:
    rep: Rep | None
    rule: RoutingRule | None = None
    # How the rep was found: "account owner", "rule", or "all reps".
    route: str = ""
    eligible: list[Rep] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def _ineligible_reason(rep: Rep, *, loads: dict[int, int]) -> str | None:
    """Why a rep loaded by _with_eligibility_data cannot take a lead now; None when they can."""
    if not rep.active or not rep.user.is_active:
        return "inactive"
    if rep.away:
        return "out of office"
    if not rep.working_periods.all():
        return "no working hours"
    if loads.get(rep.pk, 0) >= rep.weekly_capacity:
        return "at weekly capacity"
    return None


def _day_share(rep: Rep) -> int:
    """A rep's weekly capacity spread over the days they work, rounded up."""
    days = len({period.weekday for period in rep.working_periods.all()}) or 5
    return max(1, -(-rep.weekly_capacity // days))


def _with_eligibility_data(candidates: QuerySet[Rep], *, now: datetime) -> list[Rep]:
    # Whether an absence covers `now` is asked of the database, so that only the reps and
    # their shifts come back: two queries, whatever the number of absences.
    away = Absence.objects.filter(rep_id=OuterRef("pk"), starts_at__lte=now, ends_at__gt=now)
    return list(
        candidates.select_related("user")
        .annotate(away=Exists(away))
        .order_by("pk")
        .prefetch_related("working_periods")
    )


def _read_credits(rep_ids: list[int], *, lock: bool) -> dict[int, float]:
    """The reps' round-robin credit as it is now. With `lock`, their rows are locked first,
    in id order so that concurrent pickers queue rather than deadlock."""
    rows = Rep.objects.filter(pk__in=rep_ids).order_by("pk")
    if lock:
        rows = rows.select_for_update()
    return dict(rows.values_list("pk", "routing_credit"))


def rep_pick(
    *,
    now: datetime | None = None,
    candidates: QuerySet[Rep] | None = None,
    dry_run: bool = False,
    days_off: frozenset[date] | None = None,
) -> RoutingDecision:
    """Choose the next rep among `candidates` (default: all active reps) by weighted round robin.

    Must run inside a transaction. Eligibility is read first without locks; then only the
    eligible reps' rows are locked, their credits read and written, and the chosen rep's
    weekly load checked again under the lock, since a concurrent pick may have filled it.
    The locks are held until the caller commits, so the caller should pick last and commit
    soon after. With `dry_run` nothing is locked or written, for the routing simulator and
    the import's "is anyone free" check. `days_off` saves a query when the caller has them.
    """
    now = now or timezone.now()
    if days_off is None:
        days_off = frozenset(CompanyDayOff.objects.values_list("day", flat=True))
    reps = _with_eligibility_data(
        candidates if candidates is not None else Rep.objects.active(), now=now
    )
    loads = rep_assigned_this_week(reps=reps, now=now)
    eligible: list[Rep] = []
    skipped: dict[int, str] = {}
    for rep in reps:
        reason = _ineligible_reason(rep, loads=loads)
        if reason:
            skipped[rep.pk] = reason
        else:
            eligible.append(rep)

    # Follow the sun: when some eligible reps are at work right now, the lead goes to one of
    # them, since its clock only runs in its rep's working hours. Reps off shift earn no
    # credit meanwhile, so they are not flooded when their day starts. A rep at work is
    # preferred only while the leads still waiting for their first response are fewer than
    # a day's share of their capacity: a burst (an import, a webinar's sign-ups) is shared
    # out instead of piled on the one rep whose day it is.
    on_shift = [rep for rep in eligible if rep.calendar(days_off=days_off).is_open(now)]
    if on_shift and len(on_shift) < len(eligible):
        waiting = rep_awaiting_first_response(reps=on_shift)
        on_shift = [rep for rep in on_shift if waiting.get(rep.pk, 0) < _day_share(rep)]
    if on_shift and len(on_shift) < len(eligible):
        for rep in eligible:
            if rep not in on_shift:
                skipped[rep.pk] = "off shift now"
        eligible = on_shift

    while eligible:
        # The critical section starts here and ends at the caller's commit: it re-counts one
        # rep's week only, since counting grows with the week's handoffs.
        credits = _read_credits([rep.pk for rep in eligible], lock=not dry_run)
        total_weight = sum(rep.weekly_capacity for rep in eligible)
        for rep in eligible:
            rep.routing_credit = credits[rep.pk] + rep.weekly_capacity
        chosen = max(eligible, key=lambda rep: (rep.routing_credit, -rep.pk))
        if rep_assigned_this_week(reps=[chosen], now=now).get(chosen.pk, 0) >= (
            chosen.weekly_capacity
        ):
            eligible.remove(chosen)
            skipped[chosen.pk] = "at weekly capacity"
            continue
        chosen.routing_credit -= total_weight
        chosen.last_assigned_at = now
        if not dry_run:
            # One set-based update that mirrors the arithmetic above, under the row locks.
            is_chosen = Q(pk=chosen.pk)
            Rep.objects.filter(pk__in=[rep.pk for rep in eligible]).update(
                routing_credit=F("routing_credit")
                + F("weekly_capacity")
                - Case(When(is_chosen, then=Value(float(total_weight))), default=Value(0.0)),
                last_assigned_at=Case(
                    When(is_chosen, then=Value(now)), default=F("last_assigned_at")
                ),
            )
        logger.info(
            "rep picked rep_id=%s eligible=%s skipped=%s", chosen.pk, len(eligible), len(skipped)
        )
        return RoutingDecision(rep=chosen, eligible=eligible, skipped=skipped)
    return RoutingDecision(rep=None, eligible=[], skipped=skipped)


def rep_route(
    *,
    lead: Lead,
    now: datetime | None = None,
    dry_run: bool = False,
    exclude_rep_ids: Iterable[int] = (),
    days_off: frozenset[date] | None = None,
) -> RoutingDecision:
    """Find the rep for a lead: the account owner if eligible, else the first matching rule.

    Must run inside a transaction (see rep_pick). With nobody eligible the decision has no rep
    and the caller leaves the lead unassigned.
    """
    now = now or timezone.now()
    excluded = set(exclude_rep_ids)
    owner = account_owner_for(lead=lead)
    if owner is not None and owner.pk not in excluded:
        (locked,) = _with_eligibility_data(Rep.objects.filter(pk=owner.pk), now=now)
        _read_credits([locked.pk], lock=not dry_run)
        loads = rep_assigned_this_week(reps=[locked], now=now)
        reason = _ineligible_reason(locked, loads=loads)
        if reason is None:
            if not dry_run:
                Rep.objects.filter(pk=locked.pk).update(last_assigned_at=now)
            logger.info("rep picked by account lead_id=%s rep_id=%s", lead.pk, locked.pk)
            return RoutingDecision(rep=locked, route="account owner", eligible=[locked])
        skipped_owner = {locked.pk: f"account owner, but {reason}"}
    else:
        skipped_owner = {}

    rule = routing_rule_for(lead=lead)
    candidates = rule_candidates(rule).exclude(pk__in=excluded)
    decision = rep_pick(now=now, candidates=candidates, dry_run=dry_run, days_off=days_off)
    decision.rule = rule
    decision.route = "rule" if rule else "all reps"
    decision.skipped = {**decision.skipped, **skipped_owner}
    return decision


def rule_candidates(rule: RoutingRule | None) -> QuerySet[Rep]:
    """The reps a rule routes to: its team and its named reps; no rule, or a rule naming
    nobody, means every active rep."""
    if rule is None:
        return Rep.objects.active()
    named = list(rule.reps.values_list("pk", flat=True))
    if rule.team_id is None and not named:
        return Rep.objects.active()
    return Rep.objects.active().filter(Q(team_id=rule.team_id) | Q(pk__in=named))
