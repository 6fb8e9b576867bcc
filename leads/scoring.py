"""The scoring engine: turns a lead, its activities and the admin's rules into a score.

Pure computation, no queries, so that one pass can score many leads with the rules loaded
once. Every point in the result is traced to a rule and, for behaviour, to the activity that
earned it, so that anybody can read why a lead scored what it did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leads import criteria
from leads.models import Activity, Lead, RuleCategory, ScoringRule

SECONDS_PER_DAY = 86400


@dataclass(frozen=True, slots=True)
class LeadFacts:
    """The fields scoring reads, loaded without building model instances (bulk rescoring)."""

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


@dataclass(frozen=True, slots=True)
class ActivityFacts:
    pk: int
    kind: str
    detail: str
    quantity: int
    occurred_at: datetime


ACTIVITY_FACT_COLUMNS = ("lead_id", "pk", "kind", "detail", "quantity", "occurred_at")


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
    rule: ScoringRule
    test: Callable[[Any], bool] | None


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
                self.fit_rules.append(_PreparedRule(rule, test))
            else:
                self.behaviour_rules.append(_PreparedRule(rule, None))

    def score(
        self, lead: Lead | LeadFacts, activities: Sequence[Activity | ActivityFacts]
    ) -> ScoreResult:
        breakdown: list[dict[str, Any]] = []
        disqualified_by = ""
        fit = 0
        # Several rules often read the same field (the email's kind, say): look it up once.
        values: dict[str, Any] = {}
        for prepared in self.fit_rules:
            rule = prepared.rule
            if rule.field == "existing_customer":
                values[rule.field] = lead.email_domain in self.customer_domains
            elif rule.field not in values:
                values[rule.field] = criteria.lead_value(lead, rule.field)
            raw = values[rule.field]
            if not prepared.test(raw):
                continue
            fit += rule.points
            if rule.disqualifier and not disqualified_by:
                disqualified_by = rule.name
            breakdown.append(
                {
                    "rule_id": rule.pk,
                    "rule": rule.name,
                    "category": RuleCategory.FIT.value,
                    "points": rule.points,
                    "field": rule.field,
                    "value": str(raw),
                    "disqualifier": rule.disqualifier,
                }
            )

        engagement = 0
        by_kind: dict[str, list[Activity | ActivityFacts]] = {}
        for activity in activities:
            by_kind.setdefault(activity.kind, []).append(activity)
        for prepared in self.behaviour_rules:
            entry = self._score_behaviour(
                prepared.rule, by_kind.get(prepared.rule.activity_kind, ())
            )
            if entry is None:
                continue
            engagement += entry["points"]
            if prepared.rule.disqualifier and not disqualified_by:
                disqualified_by = prepared.rule.name
            breakdown.append(entry)
        return ScoreResult(
            fit=fit, engagement=engagement, breakdown=breakdown, disqualified_by=disqualified_by
        )

    def _score_behaviour(
        self, rule: ScoringRule, activities: Sequence[Activity | ActivityFacts]
    ) -> dict[str, Any] | None:
        """Points for one rule from the lead's activities of the rule's kind."""
        items = []
        raw_total = 0.0
        needle = rule.detail_contains.casefold()
        for activity in activities:
            if needle and needle not in activity.detail.casefold():
                continue
            age_days = max((self.now - activity.occurred_at).total_seconds(), 0) / SECONDS_PER_DAY
            if rule.window_days and age_days > rule.window_days:
                continue
            weight = 0.5 ** (age_days / rule.half_life_days) if rule.half_life_days else 1.0
            earned = rule.points * activity.quantity * weight
            raw_total += earned
            items.append(
                {
                    "activity_id": activity.pk,
                    "kind": activity.kind,
                    "occurred_at": activity.occurred_at.isoformat(),
                    "quantity": activity.quantity,
                    "points": round(earned, 2),
                }
            )
        if not items:
            return None
        # The cap bounds the rule's whole contribution, so repeated visits cannot add up to a
        # demo request.
        capped = raw_total
        if rule.cap is not None:
            capped = max(min(raw_total, rule.cap), -rule.cap)
        return {
            "rule_id": rule.pk,
            "rule": rule.name,
            "category": RuleCategory.BEHAVIOUR.value,
            "points": round(capped),
            "capped": capped != raw_total,
            "disqualifier": rule.disqualifier,
            "activities": items,
        }
