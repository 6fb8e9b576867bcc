from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from leads.models import ActivityKind, Lead, RuleCategory, ScoringRule
from leads.scoring import Scorer
from leads.tests.factories import (
    ActivityFactory,
    BehaviourRuleFactory,
    FitRuleFactory,
    LeadFactory,
    SourceFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_default_rules():
    # The shipped rules are data; these tests define their own.
    ScoringRule.objects.all().delete()


def score(lead, activities=()):  # noqa: ANN001,ANN201
    return Scorer(rules=ScoringRule.objects.all(), now=NOW).score(lead, list(activities))


@pytest.mark.parametrize(
    ("operator", "value", "job_title", "matched"),
    [
        ("equals", "head of sales", "Head of Sales", True),
        ("equals", "head", "Head of Sales", False),
        ("one_of", "cto, head of sales", "Head of Sales", True),
        ("one_of", "cto,ceo", "Head of Sales", False),
        ("contains", "SALES", "Head of Sales", True),
        ("contains", "marketing", "Head of Sales", False),
        ("matches", r"^head\b", "Head of Sales", True),
        ("matches", r"^vp\b", "Head of Sales", False),
        ("equals", "anything", "", False),
    ],
)
def test_fit_operators_on_text(operator, value, job_title, matched):
    FitRuleFactory(field="job_title", operator=operator, value=value, points=15)
    result = score(LeadFactory.build(job_title=job_title, source=None))
    assert result.fit == (15 if matched else 0)


@pytest.mark.parametrize(("size", "points"), [(49, 0), (50, 10), (5000, 10), (5001, 0), (None, 0)])
def test_between_is_inclusive_and_ignores_blank(size, points):
    FitRuleFactory(field="company_size", operator="between", value="50..5000", points=10)
    assert score(LeadFactory.build(company_size=size, source=None)).fit == points


def test_attribute_and_derived_fields():
    FitRuleFactory(
        field="attributes.occupation", operator="equals", value="working professional", points=30
    )
    FitRuleFactory(field="email_domain_kind", operator="equals", value="personal", points=-5)
    FitRuleFactory(field="source", operator="one_of", value="reference,partner", points=20)
    lead = LeadFactory(
        email="ann@gmail.com",
        attributes={"occupation": "Working Professional"},
        source=SourceFactory(name="Reference", slug="reference"),
    )
    result = score(lead)
    assert result.fit == 45
    assert [entry["rule"] for entry in result.breakdown] == [
        rule.name for rule in ScoringRule.objects.all()
    ]
    assert result.breakdown[1] == {
        "rule_id": ScoringRule.objects.all()[1].pk,
        "rule": ScoringRule.objects.all()[1].name,
        "category": "fit",
        "points": -5,
        "field": "email_domain_kind",
        "value": "personal",
        "disqualifier": False,
    }


def test_behaviour_points_are_capped_and_traced_to_activities():
    rule = BehaviourRuleFactory(activity_kind=ActivityKind.PAGE_VISIT, points=2, cap=12)
    lead = LeadFactory()
    visit = ActivityFactory(lead=lead, kind=ActivityKind.PAGE_VISIT, quantity=10, occurred_at=NOW)
    result = score(lead, [visit])
    assert result.engagement == 12
    entry = result.breakdown[0]
    assert entry["rule_id"] == rule.pk
    assert entry["capped"] is True
    assert entry["activities"] == [
        {"activity_id": visit.pk, "kind": "page_visit", "occurred_at": NOW.isoformat(),
         "quantity": 10, "points": 20.0}
    ]  # fmt: skip


def test_detail_filter_only_counts_matching_activities():
    BehaviourRuleFactory(
        activity_kind=ActivityKind.PAGE_VISIT, detail_contains="/pricing", points=20
    )
    lead = LeadFactory()
    pricing = ActivityFactory(
        lead=lead, kind=ActivityKind.PAGE_VISIT, detail="https://x.io/pricing", occurred_at=NOW
    )
    blog = ActivityFactory(
        lead=lead, kind=ActivityKind.PAGE_VISIT, detail="https://x.io/blog", occurred_at=NOW
    )
    assert score(lead, [pricing, blog]).engagement == 20


def test_half_life_decays_points():
    BehaviourRuleFactory(activity_kind=ActivityKind.DEMO_REQUEST, points=40, half_life_days=10)
    lead = LeadFactory()
    old = ActivityFactory(
        lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW - timedelta(days=20)
    )
    assert score(lead, [old]).engagement == 10


def test_window_drops_old_activities():
    BehaviourRuleFactory(activity_kind=ActivityKind.WEBINAR_ATTENDED, points=15, window_days=30)
    lead = LeadFactory()
    recent = ActivityFactory(
        lead=lead, kind=ActivityKind.WEBINAR_ATTENDED, occurred_at=NOW - timedelta(days=29)
    )
    stale = ActivityFactory(
        lead=lead, kind=ActivityKind.WEBINAR_ATTENDED, occurred_at=NOW - timedelta(days=31)
    )
    assert score(lead, [recent, stale]).engagement == 15


def test_disqualifier_blocks_mql_whatever_the_points():
    FitRuleFactory(
        name="Competitor",
        field="email_domain",
        operator="one_of",
        value="rival.com",
        points=0,
        disqualifier=True,
    )
    BehaviourRuleFactory(activity_kind=ActivityKind.DEMO_REQUEST, points=100)
    lead = LeadFactory(email="spy@rival.com")
    demo = ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    result = score(lead, [demo])
    assert result.total == 100
    assert result.disqualified_by == "Competitor"
    assert not result.qualifies(threshold=50, fit_minimum=0)


def test_qualifies_needs_threshold_and_fit_minimum():
    FitRuleFactory(points=10)
    BehaviourRuleFactory(activity_kind=ActivityKind.DEMO_REQUEST, points=45)
    lead = LeadFactory(job_title="Sales lead")
    demo = ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    result = score(lead, [demo])
    assert (result.fit, result.engagement, result.total) == (10, 45, 55)
    assert result.qualifies(threshold=55, fit_minimum=10)
    assert not result.qualifies(threshold=56, fit_minimum=0)
    assert not result.qualifies(threshold=50, fit_minimum=11)


@pytest.mark.parametrize(
    ("fields", "error_field", "message"),
    [
        (
            {"field": "shoe_size", "operator": "equals", "value": "9"},
            "field",
            "unknown field 'shoe_size'",
        ),
        (
            {"field": "company_size", "operator": "between", "value": "50-200"},
            "value",
            "'50-200' is not a range",
        ),
        (
            {"field": "company_size", "operator": "between", "value": "500..50"},
            "value",
            "low bound above",
        ),
        (
            {"field": "job_title", "operator": "matches", "value": "(head"},
            "value",
            "'(head' is not a valid pattern",
        ),
        (
            {"field": "job_title", "operator": "matches", "value": r"(vp)\s+\1"},
            "value",
            r"'(vp)\s+\1' is not a valid pattern (invalid escape sequence: \1)",
        ),
        (
            {"field": "company_size", "operator": "equals", "value": "lots"},
            "value",
            "'lots' is not a number",
        ),
        ({"field": "job_title", "operator": "", "value": "x"}, "operator", "needs an operator"),
        (
            {"field": "attributes.converted", "operator": "equals", "value": "1"},
            "field",
            "tests 'attributes.converted', an outcome known only after the handoff",
        ),
    ],
)
def test_malformed_fit_rule_is_refused_naming_rule_and_value(fields, error_field, message):
    rule = ScoringRule(name="Bad rule", category=RuleCategory.FIT, points=5, **fields)
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    assert message in caught.value.message_dict[error_field][0]
    assert "Rule 'Bad rule'" in caught.value.message_dict[error_field][0]


def test_behaviour_rule_needs_a_kind():
    rule = ScoringRule(name="Vague", category=RuleCategory.BEHAVIOUR, points=5)
    with pytest.raises(ValidationError) as caught:
        rule.full_clean()
    assert caught.value.message_dict["activity_kind"] == [
        "Rule 'Vague' needs the kind of activity it counts."
    ]


def test_shipped_default_rules_are_all_valid(django_db_setup):
    # The autouse fixture deleted them; reload the data migration's definitions.
    from importlib import import_module

    migration = import_module("leads.migrations.0002_default_rules")
    from django.apps import apps

    migration.create_rules(apps, None)
    assert ScoringRule.objects.count() == len(migration.FIT_RULES) + len(migration.BEHAVIOUR_RULES)
    for rule in ScoringRule.objects.all():
        rule.full_clean()


def test_do_not_contact_needs_both_flags():
    FitRuleFactory(
        field="do_not_contact",
        operator="equals",
        value="yes",
        points=0,
        disqualifier=True,
        name="DNC",
    )
    assert (
        score(LeadFactory.build(do_not_email=True, do_not_call=False, source=None)).disqualified_by
        == ""
    )
    assert (
        score(LeadFactory.build(do_not_email=True, do_not_call=True, source=None)).disqualified_by
        == "DNC"
    )


def test_existing_customer_domain_disqualifies():
    from leads.services import scorer_current

    FitRuleFactory(
        field="existing_customer",
        operator="equals",
        value="yes",
        points=0,
        disqualifier=True,
        name="Customer",
    )
    company_customer = LeadFactory(email="cfo@bigco.example")
    webmail_customer = LeadFactory(email="someone@gmail.com")
    Lead.objects.filter(pk__in=[company_customer.pk, webmail_customer.pk]).update(stage="customer")
    scorer = scorer_current(now=NOW)
    assert (
        scorer.score(LeadFactory.build(email="new@BigCo.example", source=None), []).disqualified_by
        == "Customer"
    )
    assert (
        scorer.score(LeadFactory.build(email="other@gmail.com", source=None), []).disqualified_by
        == ""
    )


def test_a_pattern_that_backtracks_without_end_is_answered_at_once():
    # A backtracking engine takes longer than the age of the universe on this title; RE2
    # answers in a pass over it, so no saved rule can stall imports or rescoring.
    scorer = Scorer(
        rules=[FitRuleFactory.build(field="job_title", operator="matches", value="(a+)+$")],
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )

    stalled = scorer.score(Lead(job_title="a" * 5000 + "!"), [])
    matched = scorer.score(Lead(job_title="A" * 5000), [])

    assert (stalled.fit, matched.fit) == (0, 10)
