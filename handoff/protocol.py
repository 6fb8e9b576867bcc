"""The living protocol: the six parts of the marketing-to-sales agreement, written out from the
live configuration, with the figures that show whether it holds, and RevOps' quarterly review.

`protocol_build` only reads. `quarterly_review_record` and `quarterly_review_remind` are the
writes; the page, the Markdown export and the quarterly snapshot all read the same figures, so
what RevOps freezes in a review is what the page showed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone

from feedback.models import RejectionReason
from handoff import metrics, roles
from handoff.documentation import REQUIRABLE_FIELDS
from handoff.errors import HandoffError, PermissionRefused
from handoff.models import (
    FIRST_RESPONSE_CEILING_HOURS,
    HandoffPoint,
    QuarterlyReview,
    RequiredField,
    SlaPolicy,
)
from handoff.notifications import notification_create
from handoff.sla import DEFAULT_POLICY
from leads.models import BANT_PARTS, RuleCategory, ScoringRule, ScoringSettings
from reps.models import Rep, RoutingRule

logger = logging.getLogger(__name__)

FIGURES_DAYS = 90

REVIEW_NOT_ALLOWED = "Only a RevOps admin can record the quarterly review."
REVIEW_DECISIONS_REQUIRED = "Write down what was decided, even if it is 'no change'."
REVIEW_ALREADY_RECORDED = (
    "The review of the quarter starting {quarter_start} is already recorded; edit it in the admin."
)

# The escalation chain an SLA policy sets, with how the protocol words each step. A step whose
# delay is empty is turned off.
ESCALATION_STEPS = (
    ("remind_rep_after_hours", "remind the rep"),
    ("alert_manager_after_hours", "alert the manager"),
    ("reassign_after_hours", "reassign to another rep"),
    ("return_after_hours", "return the lead to marketing with the reason 'no response'"),
)

# What the system tells whom, as the services send it. Written here so that the protocol states
# it; a new kind of notification should be added to this list in the same change.
NOTIFICATIONS = (
    "The rep: as soon as a lead is assigned, with the deadline in the rep's own timezone.",
    "The rep and the manager: as the SLA policy's steps fall due (part 4): a warning before "
    "the deadline, a reminder after it, an alert to the manager, a missed cadence, a "
    "reassignment and a return to marketing. Each step happens once per handoff.",
    "Every manager: when no rep can take an MQL (all inactive, away or at capacity), once per "
    "spell; the lead waits and is offered again every five minutes.",
    "The account executive: when a rep hands an SQL over as an opportunity, with a link to "
    "the handoff packet.",
    "RevOps admins: once per quarter while the protocol review is due.",
    "Each notification is in the app (the bell) and, unless the person turned it off, by email.",
)


def quarter_start(day: date) -> date:
    """The first day of the calendar quarter containing `day`."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def next_quarter_start(day: date) -> date:
    start = quarter_start(day)
    return date(start.year + 1, 1, 1) if start.month == 10 else date(start.year, start.month + 3, 1)


@dataclass(frozen=True)
class ReviewSchedule:
    last: QuarterlyReview | None
    # The start of the quarter whose review is next: the one after the last review's, or the
    # current quarter when no review was ever held.
    next_due: date
    current_quarter: date

    @property
    def is_due(self) -> bool:
        return self.next_due <= self.current_quarter

    @property
    def is_overdue(self) -> bool:
        return self.next_due < self.current_quarter


def review_schedule(*, today: date) -> ReviewSchedule:
    last = QuarterlyReview.objects.select_related("reviewed_by").order_by("-quarter_start").first()
    current = quarter_start(today)
    next_due = next_quarter_start(last.quarter_start) if last else current
    return ReviewSchedule(last=last, next_due=next_due, current_quarter=current)


@dataclass(frozen=True)
class RuleLine:
    name: str
    category: str
    points: int
    condition: str
    decay: str
    cap: int | None
    disqualifier: bool


@dataclass(frozen=True)
class PolicyLine:
    name: str
    applies_to: str
    first_response_hours: int
    escalation: list[str]


@dataclass(frozen=True)
class RoutingLine:
    name: str
    conditions: str
    takers: str


@dataclass
class Protocol:
    """Everything the protocol page and its Markdown export say, read at one instant."""

    now: datetime
    mql_threshold: int
    fit_minimum: int
    fit_rules: list[RuleLine]
    behaviour_rules: list[RuleLine]
    disqualifiers: list[RuleLine]
    bant_parts: tuple[str, ...]
    routing: list[RoutingLine]
    reps: int
    weekly_capacity: int
    notifications: tuple[str, ...]
    policies: list[PolicyLine]
    ceiling_hours: int
    reasons: list[RejectionReason]
    required: dict[str, list[str]]
    figures: dict
    schedule: ReviewSchedule
    point_labels: dict[str, str] = field(default_factory=dict)


def _rule_line(rule: ScoringRule) -> RuleLine:
    if rule.category == RuleCategory.FIT:
        condition = f"{rule.field} {rule.get_operator_display()} {rule.value}"
        decay = ""
    else:
        condition = rule.get_activity_kind_display()
        if rule.detail_contains:
            condition += f" whose detail contains '{rule.detail_contains}'"
        parts = []
        if rule.half_life_days:
            parts.append(f"halves every {rule.half_life_days} days")
        if rule.window_days:
            parts.append(f"counts the last {rule.window_days} days")
        decay = ", ".join(parts)
    return RuleLine(
        name=rule.name,
        category=rule.category,
        points=rule.points,
        condition=condition,
        decay=decay,
        cap=rule.cap,
        disqualifier=rule.disqualifier,
    )


def _policy_line(policy: SlaPolicy) -> PolicyLine:
    conditions = []
    if policy.source_id:
        conditions.append(f"source {policy.source.name}")
    if policy.min_score is not None:
        conditions.append(f"score {policy.min_score} or more")
    escalation = []
    if policy.warning_percent:
        escalation.append(f"at {policy.warning_percent}% of the time: warn the rep")
    for name, action in ESCALATION_STEPS:
        hours = getattr(policy, name)
        if hours is None:
            continue
        when = (
            "at the deadline"
            if hours == 0
            else f"{hours} business hour{pluralize(hours)} after the deadline"
        )
        escalation.append(f"{when}: {action}")
    if policy.cadence_attempts:
        escalation.append(
            f"after the first response: {policy.cadence_attempts} attempts within "
            f"{policy.cadence_business_days} business days, at least "
            f"{policy.cadence_min_spacing_hours} hours apart"
        )
    return PolicyLine(
        name=policy.name,
        applies_to=" and ".join(conditions) or "every lead",
        first_response_hours=policy.first_response_hours,
        escalation=escalation,
    )


def _routing_line(rule: RoutingRule) -> RoutingLine:
    conditions = []
    if rule.countries:
        conditions.append(f"country in {rule.countries}")
    if rule.industries:
        conditions.append(f"industry in {rule.industries}")
    sources = [source.name for source in rule.sources.all()]
    if sources:
        conditions.append(f"source in {', '.join(sources)}")
    if rule.min_company_size is not None or rule.max_company_size is not None:
        low = rule.min_company_size if rule.min_company_size is not None else "any"
        high = rule.max_company_size if rule.max_company_size is not None else "any"
        conditions.append(f"company size {low} to {high}")
    if rule.min_score is not None:
        conditions.append(f"score {rule.min_score} or more")
    reps = [str(rep) for rep in rule.reps.all()]
    takers = ", ".join(reps) if reps else (f"team {rule.team.name}" if rule.team_id else "nobody")
    return RoutingLine(
        name=rule.name,
        conditions=" and ".join(conditions) or "every lead not matched above (fallback pool)",
        takers=takers,
    )


def protocol_figures(*, now: datetime, days: int = FIGURES_DAYS) -> dict:
    """The protocol's current figures over the last `days` days, as plain JSON-ready values:
    what the page shows and what a quarterly review freezes."""
    since = now - timedelta(days=days)
    compliance = metrics.sla_compliance(now=now, since=since)
    speed = metrics.speed_to_lead(since=since)
    conversion = metrics.mql_to_sql_rate(since=since)
    acceptance = metrics.acceptance_rate(since=since)
    overall = compliance[0] if compliance else None
    speed_all = speed[0] if speed else None
    accepted = acceptance[0] if acceptance else None
    return {
        "since": since.isoformat(timespec="seconds"),
        "until": now.isoformat(timespec="seconds"),
        "days": days,
        "sla_compliance": {
            "met": overall.met if overall else 0,
            "breached": overall.breached if overall else 0,
            "rate": overall.rate if overall else None,
        },
        "speed_to_lead": {
            "responses": speed_all.count if speed_all else 0,
            "median_system_hours": speed_all.median_system_hours if speed_all else None,
            "median_rep_hours": speed_all.median_rep_hours if speed_all else None,
            "median_rep_business_hours": (
                speed_all.median_rep_business_hours if speed_all else None
            ),
            "median_total_hours": speed_all.median_total_hours if speed_all else None,
        },
        "mql_to_sql": conversion,
        "acceptance": {
            "ended": accepted["ended"] if accepted else 0,
            "rejected": accepted["rejected"] if accepted else 0,
            "rate": accepted["rate"] if accepted else None,
        },
    }


def protocol_build(*, now: datetime | None = None) -> Protocol:
    now = now or timezone.now()
    thresholds = ScoringSettings.current()
    rules = [_rule_line(rule) for rule in ScoringRule.objects.filter(active=True)]
    routing = RoutingRule.objects.filter(active=True).select_related("team")
    capacity = Rep.objects.active().aggregate(reps=Count("pk"), total=Sum("weekly_capacity"))
    required: dict[str, list[str]] = {point: [] for point in HandoffPoint.values}
    for row in RequiredField.objects.filter(active=True):
        required[row.point].append(row.label or REQUIRABLE_FIELDS.get(row.field, row.field))
    return Protocol(
        now=now,
        mql_threshold=thresholds.mql_threshold,
        fit_minimum=thresholds.fit_minimum,
        fit_rules=[r for r in rules if r.category == RuleCategory.FIT and not r.disqualifier],
        behaviour_rules=[
            r for r in rules if r.category == RuleCategory.BEHAVIOUR and not r.disqualifier
        ],
        disqualifiers=[r for r in rules if r.disqualifier],
        bant_parts=BANT_PARTS,
        routing=[
            _routing_line(rule)
            for rule in routing.prefetch_related("sources", "reps__user").order_by("position", "pk")
        ],
        reps=capacity["reps"] or 0,
        weekly_capacity=capacity["total"] or 0,
        notifications=NOTIFICATIONS,
        policies=[
            *(
                _policy_line(policy)
                for policy in SlaPolicy.objects.filter(active=True).select_related("source")
            ),
            # The SLA engine gives a lead that no policy matches the protocol's defaults.
            replace(_policy_line(DEFAULT_POLICY), applies_to="any lead no policy above matches"),
        ],
        ceiling_hours=FIRST_RESPONSE_CEILING_HOURS,
        reasons=list(RejectionReason.objects.filter(active=True)),
        required=required,
        figures=protocol_figures(now=now),
        schedule=review_schedule(today=timezone.localdate(now)),
        point_labels=dict(HandoffPoint.choices),
    )


def quarterly_review_record(
    *, actor: AbstractBaseUser, decisions: str, now: datetime | None = None
) -> QuarterlyReview:
    """Record RevOps' review of the current quarter, with the protocol's figures frozen as
    they are now. One review per quarter: a second one is refused and changes nothing."""
    if not roles.has_role(actor, roles.REVOPS):
        raise PermissionRefused(REVIEW_NOT_ALLOWED)
    decisions = (decisions or "").strip()
    if not decisions:
        raise HandoffError(REVIEW_DECISIONS_REQUIRED)
    now = now or timezone.now()
    start = quarter_start(timezone.localdate(now))
    try:
        with transaction.atomic():
            review = QuarterlyReview.objects.create(
                quarter_start=start,
                reviewed_at=now,
                reviewed_by=actor,
                metrics=protocol_figures(now=now),
                decisions=decisions,
            )
    except IntegrityError:
        raise HandoffError(REVIEW_ALREADY_RECORDED.format(quarter_start=start)) from None
    logger.info(
        "quarterly review recorded review_id=%s quarter_start=%s actor_id=%s",
        review.pk,
        start,
        actor.pk,
    )
    return review


def quarterly_review_remind(*, now: datetime | None = None) -> int:
    """Remind every active RevOps admin that this quarter's protocol review is due.

    Idempotent: the notification key names the quarter, so running this every day sends each
    admin one reminder per quarter, and none once the review is recorded. Returns how many
    reminders were written.
    """
    now = now or timezone.now()
    schedule = review_schedule(today=timezone.localdate(now))
    if not schedule.is_due:
        return 0
    key = f"quarterly-review:{schedule.current_quarter.isoformat()}"
    admins = (
        get_user_model().objects.filter(groups__name=roles.REVOPS, is_active=True).order_by("pk")
    )
    sent = 0
    for admin in admins:
        with transaction.atomic():
            created = notification_create(
                recipient=admin,
                kind="quarterly_review_due",
                key=key,
                title="The quarterly protocol review is due",
                body=(
                    "Go through the protocol's criteria, SLAs and feedback with marketing and "
                    "sales, then record what was decided."
                ),
                url=reverse("protocol"),
            )
        sent += created is not None
    logger.info(
        "quarterly review reminders sent=%s quarter_start=%s", sent, schedule.current_quarter
    )
    return sent
