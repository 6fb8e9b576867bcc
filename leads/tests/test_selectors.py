from datetime import UTC, datetime, timedelta

import pytest

from leads.models import ActivityKind, Lead, ScoringRule
from leads.selectors import scoring_preview
from leads.tests.factories import ActivityFactory, BehaviourRuleFactory, LeadFactory
from reps.tests.factories import RepFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_preview_compares_proposed_rules_with_saved_ones_without_writing():
    RepFactory(weekly_capacity=50)
    RepFactory(weekly_capacity=30)
    for days_ago in (1, 10, 40):
        lead = LeadFactory(job_title="", email=f"l{days_ago}@corp.example")
        ActivityFactory(lead=lead, kind=ActivityKind.WEBINAR_ATTENDED, quantity=2, occurred_at=NOW)
        Lead.objects.filter(pk=lead.pk).update(created_at=NOW - timedelta(days=days_ago))
    too_old = LeadFactory()
    Lead.objects.filter(pk=too_old.pk).update(created_at=NOW - timedelta(days=91))
    before = list(Lead.objects.values_list("pk", "score", "scored_at"))

    # Saved rules: a webinar is worth 15 (capped at 30) plus 10 for a company email = 40 < 50.
    proposed = [*ScoringRule.objects.all()]
    webinar = next(rule for rule in proposed if rule.activity_kind == ActivityKind.WEBINAR_ATTENDED)
    webinar.points, webinar.cap = 25, 50
    preview = scoring_preview(rules=proposed, threshold=50, fit_minimum=0, now=NOW)

    assert (preview.leads, preview.would_qualify, preview.qualify_now) == (3, 3, 0)
    assert preview.weekly_capacity == 80
    assert preview.weekly_volume == pytest.approx(3 * 7 / 90)
    assert preview.capacity_share == pytest.approx(3 * 7 / 90 / 80)
    assert list(Lead.objects.values_list("pk", "score", "scored_at")) == before
    assert ScoringRule.objects.get(pk=webinar.pk).points == 15


def test_preview_with_a_higher_threshold_qualifies_fewer():
    rule = BehaviourRuleFactory(activity_kind=ActivityKind.DEMO_REQUEST, points=50)
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind=rule.activity_kind, occurred_at=NOW)
    Lead.objects.filter(pk=lead.pk).update(created_at=NOW - timedelta(days=1))
    rules = list(ScoringRule.objects.all())
    assert scoring_preview(rules=rules, threshold=50, fit_minimum=0, now=NOW).would_qualify == 1
    assert scoring_preview(rules=rules, threshold=500, fit_minimum=0, now=NOW).would_qualify == 0
    assert scoring_preview(rules=rules, threshold=50, fit_minimum=0, now=NOW).capacity_share is None
