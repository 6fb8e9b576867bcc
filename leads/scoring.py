"""The scoring engine: turns a lead, its activities and the admin's rules into a score.

Pure computation, no queries, so that one pass can score many leads with the rules loaded
once. Every point in the result is traced to a rule and, for behaviour, to the activity that
earned it, so that anybody can read why a lead scored what it did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from leads import criteria
from leads.models import Activity, Lead, RuleCategory, ScoringRule

SECONDS_PER_DAY = 86400
MICROSECONDS_PER_SECOND = 1_000_000
MAX_REMEMBERED_ANSWERS = 10_000


class LeadFacts(NamedTuple):
    """The fields scoring reads, loaded without building model instances (bulk rescoring).
    Named tuples, because a nightly pass builds millions of these and activities."""

    pk: int
    email: str
    job_title: str
    industry: str
    company_size: int | None
    country: str
    city: str
    company: str
    campaign: str
    do_not_email: bool
    do_not_call: bool
    attributes: dict
    source_slug: str

    @property
    def email_domain(self) -> str:
        return self.email.rpartition("@")[2].lower() if "@" in self.email else ""


# The columns LeadFacts is built from, in its field order ("source__slug" last).
LEAD_FACT_COLUMNS = (
    "pk", "email", "job_title", "industry", "company_size", "country", "city", "company",
    "campaign", "do_not_email", "do_not_call", "attributes", "source__slug",
)  # fmt: skip


class ActivityFacts(NamedTuple):
    pk: int
    kind: str
    detail: str
    quantity: int
    occurred_at: datetime


ACTIVITY_FACT_COLUMNS = ("lead_id", "pk", "kind", "detail", "quantity", "occurred_at")

# An activity as the engine works on it: (pk, kind, detail, quantity, age in days, occurred_at
# in ISO 8601). `activity_row` makes one from a model or ActivityFacts; the bulk reader on
# PostgreSQL makes them from one aggregated query, without building datetimes.
ActivityRow = tuple[int, str, str, int, float, str]


@dataclass(frozen=True)
class ScoreResult:
    fit: int
    engagement: int
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    disqualified_by: str = ""

    @property
    def total(self) -> int:
        return self.fit + self.engagement

    def qualifies(self, *, threshold: int, fit_minimum: int) -> bool:
        return not self.disqualified_by and self.total >= threshold and self.fit >= fit_minimum


@dataclass(frozen=True)
class _PreparedRule:
    """A rule with what scoring needs read out once: its test, and its breakdown labels."""

    rule: ScoringRule
    test: Callable[[Any], bool] | None
    rule_id: int | None
    name: str
    points: int
    disqualifier: bool
    # Behaviour rules: the rule's settings, read once rather than once per lead.
    needle: str = ""
    window_days: int | None = None
    half_life_days: float | None = None
    cap: int | None = None
    # Fit rules: earlier answers by lead value. Many leads share a title or a domain kind, and
    # a pattern search costs more than a lookup.
    answers: dict[tuple[type, Any], bool] = field(default_factory=dict)

    @classmethod
    def of(cls, rule: ScoringRule, test: Callable[[Any], bool] | None) -> _PreparedRule:
        return cls(
            rule=rule,
            test=test,
            rule_id=rule.pk,
            name=rule.name,
            points=rule.points,
            disqualifier=rule.disqualifier,
            needle=(rule.detail_contains or "").casefold(),
            window_days=rule.window_days,
            half_life_days=rule.half_life_days,
            cap=rule.cap,
        )

    def matches(self, raw: Any) -> bool:
        # The type is part of the key: True and 1 are equal keys but different answers.
        try:
            key = (type(raw), raw)
            answer = self.answers.get(key)
        except TypeError:
            return self.test(raw)
        if answer is None:
            answer = self.test(raw)
            if len(self.answers) < MAX_REMEMBERED_ANSWERS:
                self.answers[key] = answer
        return answer


def activity_row(activity: Activity | ActivityFacts, now: datetime) -> ActivityRow:
    occurred_at = activity.occurred_at
    return (
        activity.pk,
        activity.kind,
        activity.detail,
        activity.quantity,
        age_in_days((now - occurred_at).total_seconds()),
        occurred_at.isoformat(),
    )


def round_cents(value: float) -> float:
    """round(value, 2), without its decimal conversion where the answer is plain.

    round(value, 2) is the double nearest to k / 100, k being value * 100 rounded exactly; k / 100
    in floating point is that same double. value * 100 is off by far less than a hundredth of a
    cent, so unless it lies that close to halfway between two whole cents, rounding it gives k.
    Close to halfway, near zero (whose sign round keeps) and far from zero, round decides.
    """
    scaled = value * 100
    if 1 <= abs(scaled) < 1e9:
        cents = round(scaled)
        if abs(scaled - cents) < 0.499999:
            return cents / 100
    return round(value, 2)


def age_in_days(seconds: float) -> float:
    """An activity's age from the seconds since it happened; the future counts as now."""
    return max(seconds, 0.0) / SECONDS_PER_DAY


FIT = RuleCategory.FIT.value
BEHAVIOUR = RuleCategory.BEHAVIOUR.value


class Scorer:
    """Scores leads against one fixed set of rules at one instant."""

    def __init__(
        self,
        *,
        rules: Iterable[ScoringRule],
        now: datetime,
        customer_domains: frozenset[str] = frozenset(),
    ) -> None:
        self.now = now
        # Company domains that already have a customer: a new lead from one is not new business.
        self.customer_domains = customer_domains
        self.fit_rules: list[_PreparedRule] = []
        self.behaviour_rules: list[_PreparedRule] = []
        for rule in rules:
            if not rule.active:
                continue
            if rule.category == RuleCategory.FIT:
                test = criteria.fit_test(operator=rule.operator, value=rule.value)
                self.fit_rules.append(_PreparedRule.of(rule, test))
            else:
                self.behaviour_rules.append(_PreparedRule.of(rule, None))
        # Behaviour rules by the activity kind they count: a lead's activities are grouped by
        # kind once, and only the kinds it has are looked at.
        self.behaviour_kinds = frozenset(
            prepared.rule.activity_kind for prepared in self.behaviour_rules
        )

    def score(
        self, lead: Lead | LeadFacts, activities: Sequence[Activity | ActivityFacts]
    ) -> ScoreResult:
        now = self.now
        return self.score_rows(lead, [activity_row(activity, now) for activity in activities])

    def score_rows(self, lead: Lead | LeadFacts, activities: Sequence[ActivityRow]) -> ScoreResult:
        """Score a lead whose activities are already rows (see ActivityRow), newest first."""
        breakdown: list[dict[str, Any]] = []
        disqualified_by = ""
        fit = 0
        # Several rules often read the same field (the email's kind, say): look it up once.
        values: dict[str, Any] = {}
        for prepared in self.fit_rules:
            field_name = prepared.rule.field
            if field_name not in values:
                if field_name == "existing_customer":
                    values[field_name] = lead.email_domain in self.customer_domains
                else:
                    values[field_name] = criteria.lead_value(lead, field_name)
            raw = values[field_name]
            if not prepared.matches(raw):
                continue
            fit += prepared.points
            if prepared.disqualifier and not disqualified_by:
                disqualified_by = prepared.name
            breakdown.append(
                {
                    "rule_id": prepared.rule_id,
                    "rule": prepared.name,
                    "category": FIT,
                    "points": prepared.points,
                    "field": field_name,
                    "value": str(raw),
                    "disqualifier": prepared.disqualifier,
                }
            )

        engagement = 0
        if activities and self.behaviour_rules:
            kinds = self.behaviour_kinds
            by_kind: dict[str, list[ActivityRow]] = {}
            for activity in activities:
                if activity[1] in kinds:
                    by_kind.setdefault(activity[1], []).append(activity)
            if by_kind:
                for prepared in self.behaviour_rules:
                    matching = by_kind.get(prepared.rule.activity_kind)
                    if not matching:
                        continue
                    entry = self._score_behaviour(prepared, matching)
                    if entry is None:
                        continue
                    engagement += entry["points"]
                    if prepared.disqualifier and not disqualified_by:
                        disqualified_by = prepared.name
                    breakdown.append(entry)
        return ScoreResult(
            fit=fit, engagement=engagement, breakdown=breakdown, disqualified_by=disqualified_by
        )

    def _score_behaviour(
        self, prepared: _PreparedRule, activities: list[ActivityRow]
    ) -> dict[str, Any] | None:
        """Points for one rule from the lead's activities of the rule's kind."""
        items = []
        raw_total = 0.0
        needle = prepared.needle
        window = prepared.window_days
        half_life = prepared.half_life_days
        points = prepared.points
        for pk, kind, detail, quantity, age_days, occurred_iso in activities:
            if needle and needle not in detail.casefold():
                continue
            if window and age_days > window:
                continue
            weight = 0.5 ** (age_days / half_life) if half_life else 1.0
            earned = points * quantity * weight
            raw_total += earned
            items.append(
                {
                    "activity_id": pk,
                    "kind": kind,
                    "occurred_at": occurred_iso,
                    "quantity": quantity,
                    "points": round_cents(earned),
                }
            )
        if not items:
            return None
        # The cap bounds the rule's whole contribution, so repeated visits cannot add up to a
        # demo request. Written out, it is max(min(raw_total, cap), -cap), objects and all.
        capped = raw_total
        cap = prepared.cap
        if cap is not None:
            capped = cap if cap < raw_total else raw_total
            if -cap > capped:
                capped = -cap
        return {
            "rule_id": prepared.rule_id,
            "rule": prepared.name,
            "category": BEHAVIOUR,
            "points": round(capped),
            "capped": capped != raw_total,
            "disqualifier": prepared.disqualifier,
            "activities": items,
        }
