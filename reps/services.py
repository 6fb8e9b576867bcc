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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import (
    Case,
    DateTimeField,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from handoff.business_hours import BusinessCalendar
from leads.models import Lead
from reps.models import Absence, CompanyDayOff, Rep, RoutingRule
from reps.selectors import (
    AccountOwners,
    account_owner_for,
    rep_assigned_this_week,
    rep_awaiting_first_response,
    routing_rule_for,
    routing_rule_matches,
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


def rep_shortlist(
    *,
    reps: Sequence[Rep],
    now: datetime,
    loads: Mapping[int, int],
    at_work: Callable[[Rep], bool],
    waiting_for: Callable[[list[Rep]], Mapping[int, int]],
) -> tuple[list[Rep], dict[int, str]]:
    """The reps among `reps` (loaded by _with_eligibility_data, in id order) who may take a
    lead now, and why each of the others may not.

    Pure: the caller supplies this week's loads, whether each rep's calendar is open at `now`,
    and the counts of leads waiting for a first response, read from the database for one lead
    or kept in memory for a batch.
    `waiting_for` is only called when some eligible reps are at work and some are not.
    """
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
    on_shift = [rep for rep in eligible if at_work(rep)]
    if on_shift and len(on_shift) < len(eligible):
        waiting = waiting_for(on_shift)
        on_shift = [rep for rep in on_shift if waiting.get(rep.pk, 0) < _day_share(rep)]
    if on_shift and len(on_shift) < len(eligible):
        for rep in eligible:
            if rep not in on_shift:
                skipped[rep.pk] = "off shift now"
        eligible = on_shift
    return eligible, skipped


def rep_credit_pick(*, eligible: Sequence[Rep], credits: Mapping[int, float]) -> tuple[Rep, int]:
    """One step of smooth weighted round robin over `eligible`, whose stored credits are given.

    Pure: each rep's `routing_credit` becomes its credit plus its weight, the rep with the most
    (the lowest id on a tie) is chosen and pays back the total weight. Returns the chosen rep
    and that total, so that the caller can write the same arithmetic back.
    """
    total_weight = sum(rep.weekly_capacity for rep in eligible)
    for rep in eligible:
        rep.routing_credit = credits[rep.pk] + rep.weekly_capacity
    chosen = max(eligible, key=lambda rep: (rep.routing_credit, -rep.pk))
    chosen.routing_credit -= total_weight
    return chosen, total_weight


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
    eligible, skipped = rep_shortlist(
        reps=reps,
        now=now,
        loads=rep_assigned_this_week(reps=reps, now=now),
        at_work=lambda rep: rep.calendar(days_off=days_off).is_open(now),
        waiting_for=lambda on_shift: rep_awaiting_first_response(reps=on_shift),
    )

    while eligible:
        # The critical section starts here and ends at the caller's commit: it re-counts one
        # rep's week only, since counting grows with the week's handoffs.
        credits = _read_credits([rep.pk for rep in eligible], lock=not dry_run)
        chosen, total_weight = rep_credit_pick(eligible=eligible, credits=credits)
        if rep_assigned_this_week(reps=[chosen], now=now).get(chosen.pk, 0) >= (
            chosen.weekly_capacity
        ):
            eligible.remove(chosen)
            skipped[chosen.pk] = "at weekly capacity"
            continue
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


class RoutingBatch:
    """Routing for many leads in one transaction, giving each lead the rep rep_route would
    give it if the leads came one after the other.

    Creating it locks the rows of every rep the batch may pick (the active reps and the
    account owners found), in id order, and counts their week loads and waiting leads under
    those locks, so that the counts are exact until the caller commits. Each `route` then
    runs the same steps as rep_route in memory and keeps the counts and credits up to date;
    `save` writes the credits back in one statement. Must run inside the caller's
    transaction, after the leads are locked (locks go lead, then rep).
    """

    def __init__(
        self, *, accounts: AccountOwners, now: datetime, days_off: frozenset[date]
    ) -> None:
        self.accounts = accounts
        self.now = now
        self.days_off = days_off
        self.rules = list(
            RoutingRule.objects.filter(active=True)
            .prefetch_related("sources", "reps")
            .order_by("position", "pk")
        )
        self.named = {rule.pk: {rep.pk for rep in rule.reps.all()} for rule in self.rules}
        pool = Rep.objects.filter(Q(active=True, user__is_active=True) | Q(pk__in=accounts.rep_ids))
        reps = _with_eligibility_data(pool.select_related("team"), now=now)
        # The critical section starts here and ends at the caller's commit.
        self.credits = _read_credits([rep.pk for rep in reps], lock=True)
        self.loads = rep_assigned_this_week(reps=reps, now=now)
        self.waiting = rep_awaiting_first_response(reps=reps)
        self.reps = {rep.pk: rep for rep in reps}
        self.active = [rep for rep in reps if rep.active and rep.user.is_active]
        self.calendars: dict[int, BusinessCalendar] = {}
        self.open_now: dict[int, bool] = {}
        self.credited: set[int] = set()
        self.picked: set[int] = set()

    def calendar(self, rep: Rep) -> BusinessCalendar:
        if rep.pk not in self.calendars:
            self.calendars[rep.pk] = rep.calendar(days_off=self.days_off)
        return self.calendars[rep.pk]

    def at_work(self, rep: Rep) -> bool:
        # Asked for every rep at every lead, of the same calendars at the same instant.
        if rep.pk not in self.open_now:
            self.open_now[rep.pk] = self.calendar(rep).is_open(self.now)
        return self.open_now[rep.pk]

    def route(self, *, lead: Lead) -> RoutingDecision:
        owner_id = self.accounts.owner_id_for(lead=lead)
        skipped_owner: dict[int, str] = {}
        if owner_id is not None:
            owner = self.reps[owner_id]
            reason = _ineligible_reason(owner, loads=self.loads)
            if reason is None:
                self._assign(lead=lead, rep=owner)
                return RoutingDecision(rep=owner, route="account owner", eligible=[owner])
            skipped_owner = {owner.pk: f"account owner, but {reason}"}

        rule = next(
            (rule for rule in self.rules if routing_rule_matches(rule=rule, lead=lead)), None
        )
        named = self.named[rule.pk] if rule else set()
        candidates = [rep for rep in self.active if rule_takes(rule=rule, named=named, rep=rep)]
        # The waiting counts are kept for every rep, so they need no query here.
        eligible, skipped = rep_shortlist(
            reps=candidates,
            now=self.now,
            loads=self.loads,
            at_work=self.at_work,
            waiting_for=lambda _on_shift: self.waiting,
        )
        decision = RoutingDecision(
            rep=None,
            rule=rule,
            route="rule" if rule else "all reps",
            skipped={**skipped, **skipped_owner},
        )
        if not eligible:
            return decision
        # No capacity re-count is needed: the loads were counted under the locks.
        chosen, _total = rep_credit_pick(eligible=eligible, credits=self.credits)
        for rep in eligible:
            self.credits[rep.pk] = rep.routing_credit
        self.credited.update(rep.pk for rep in eligible)
        self._assign(lead=lead, rep=chosen)
        decision.rep = chosen
        decision.eligible = eligible
        return decision

    def _assign(self, *, lead: Lead, rep: Rep) -> None:
        # A new handoff counts toward the rep's week and waits for its first response.
        self.loads[rep.pk] = self.loads.get(rep.pk, 0) + 1
        self.waiting[rep.pk] = self.waiting.get(rep.pk, 0) + 1
        self.picked.add(rep.pk)
        self.accounts.record(lead=lead, rep_id=rep.pk, now=self.now)

    def save(self) -> None:
        """Write the credits and last pick times back, in one statement."""
        changed = sorted(self.credited | self.picked)
        if not changed:
            return
        Rep.objects.filter(pk__in=changed).update(
            routing_credit=Case(
                *(When(pk=pk, then=Value(self.credits[pk])) for pk in changed),
                default=F("routing_credit"),
                output_field=FloatField(),
            ),
            last_assigned_at=Case(
                *(When(pk=pk, then=Value(self.now)) for pk in sorted(self.picked)),
                default=F("last_assigned_at"),
                output_field=DateTimeField(),
            ),
        )


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
        # An owner who cannot take the lead is not locked: the reps locked next must be taken
        # in id order after it, as a batch (RoutingBatch) takes them all, or the two could
        # deadlock. An owner who can is locked and checked again, since a concurrent pick may
        # have filled their week.
        reason = _ineligible_reason(locked, loads=rep_assigned_this_week(reps=[locked], now=now))
        if reason is None:
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


def rule_takes(*, rule: RoutingRule | None, named: Iterable[int], rep: Rep) -> bool:
    """Whether an active rep is in the pool of `rule_candidates(rule)`, given the ids of the
    reps the rule names; the in-memory form of that query, for routing in batches."""
    named = set(named)
    if rule is None or (rule.team_id is None and not named):
        return True
    # As in the query, a rule without a team also takes the reps without one.
    return rep.team_id == rule.team_id or rep.pk in named


def rule_candidates(rule: RoutingRule | None) -> QuerySet[Rep]:
    """The reps a rule routes to: its team and its named reps; no rule, or a rule naming
    nobody, means every active rep."""
    if rule is None:
        return Rep.objects.active()
    named = list(rule.reps.values_list("pk", flat=True))
    if rule.team_id is None and not named:
        return Rep.objects.active()
    return Rep.objects.active().filter(Q(team_id=rule.team_id) | Q(pk__in=named))
