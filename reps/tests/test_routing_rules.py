from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from handoff.models import Handoff
from leads.models import Lead
from leads.tests.factories import LeadFactory, SourceFactory
from reps.models import Rep, RoutingRule
from reps.services import rep_route
from reps.tests.factories import RepFactory, TeamFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)


@pytest.fixture
def teams():
    emea = TeamFactory(name="EMEA")
    americas = TeamFactory(name="Americas")
    RepFactory(user__username="anna", team=emea)
    RepFactory(user__username="bert", team=emea)
    RepFactory(user__username="carl", team=americas)
    return emea, americas


def route(lead: Lead, dry_run: bool = False):  # noqa: ANN201
    with transaction.atomic():
        return rep_route(lead=lead, now=NOW, dry_run=dry_run)


def test_first_matching_rule_wins_and_rotates_within_its_team(teams):
    emea, americas = teams
    RoutingRule.objects.create(name="EMEA", position=1, countries="Germany, France", team=emea)
    RoutingRule.objects.create(
        name="Americas", position=2, countries="United States", team=americas
    )
    german = [LeadFactory(country="germany") for _ in range(3)]
    picked = [route(lead).rep.user.username for lead in german]
    assert picked == ["anna", "bert", "anna"]
    decision = route(LeadFactory(country="United States"))
    assert (decision.rep.user.username, decision.rule.name, decision.route) == (
        "carl",
        "Americas",
        "rule",
    )


def test_lead_matching_no_rule_goes_to_the_fallback_pool(teams):
    emea, _ = teams
    RoutingRule.objects.create(name="EMEA", position=1, countries="Germany", team=emea)
    fallback = RoutingRule.objects.create(name="Everyone else", position=99)
    decision = route(LeadFactory(country="Japan"))
    assert decision.rule == fallback
    assert decision.rep.user.username in {"anna", "bert", "carl"}


@pytest.mark.parametrize(
    ("fields", "matches"),
    [
        ({"industry": "Software", "company_size": 200}, True),
        ({"industry": "software", "company_size": 50}, True),
        ({"industry": "Retail", "company_size": 200}, False),
        ({"industry": "Software", "company_size": 10}, False),
        ({"industry": "Software", "company_size": None}, False),
    ],
)
def test_rule_conditions_on_industry_and_company_size(teams, fields, matches):
    emea, americas = teams
    RoutingRule.objects.create(
        name="Mid-market software", position=1, industries="Software, SaaS",
        min_company_size=50, max_company_size=1000, team=americas,
    )  # fmt: skip
    decision = route(LeadFactory(**fields))
    assert (decision.rule is not None) is matches


def test_rule_on_source_and_score_routes_to_named_reps(teams):
    demo = SourceFactory(slug="demo-request", name="Demo request")
    rule = RoutingRule.objects.create(name="Hot demos", position=1, min_score=70)
    rule.sources.add(demo)
    rule.reps.add(Rep.objects.get(user__username="carl"))
    hot = LeadFactory(source=demo, score=80)
    cold = LeadFactory(source=demo, score=40)
    assert route(hot).rep.user.username == "carl"
    assert route(cold).rule is None


def test_matched_team_with_nobody_eligible_leaves_the_lead_waiting(teams):
    emea, _ = teams
    RoutingRule.objects.create(name="EMEA", position=1, countries="Germany", team=emea)
    Rep.objects.filter(team=emea).update(active=False)
    decision = route(LeadFactory(country="Germany"))
    assert decision.rep is None
    assert decision.rule.name == "EMEA"


def test_account_owner_gets_the_new_lead_from_the_same_company(teams):
    carl = Rep.objects.get(user__username="carl")
    existing = LeadFactory(email="cto@globex.example")
    Lead.objects.filter(pk=existing.pk).update(stage="mql")
    Handoff.objects.create(
        lead=existing, rep=carl, first_response_hours=4, assigned_at=NOW, due_at=NOW
    )
    decision = route(LeadFactory(email="cfo@Globex.example", company="Globex"))
    assert (decision.rep, decision.route) == (carl, "account owner")


def test_webmail_does_not_make_an_account(teams):
    carl = Rep.objects.get(user__username="carl")
    existing = LeadFactory(email="someone@gmail.com", company="")
    Lead.objects.filter(pk=existing.pk).update(stage="mql")
    Handoff.objects.create(
        lead=existing, rep=carl, first_response_hours=4, assigned_at=NOW, due_at=NOW
    )
    decision = route(LeadFactory(email="other@gmail.com", company=""))
    assert decision.route == "all reps"


def test_ineligible_account_owner_falls_back_to_rules(teams):
    carl = Rep.objects.get(user__username="carl")
    existing = LeadFactory(email="cto@globex.example")
    Lead.objects.filter(pk=existing.pk).update(stage="sql")
    Handoff.objects.create(
        lead=existing, rep=carl, first_response_hours=4, assigned_at=NOW, due_at=NOW
    )
    Rep.objects.filter(pk=carl.pk).update(weekly_capacity=1)
    decision = route(LeadFactory(email="cfo@globex.example"))
    assert decision.rep.user.username in {"anna", "bert"}
    assert decision.skipped[carl.pk] == "account owner, but at weekly capacity"


def test_dry_run_changes_no_routing_state(teams):
    before = list(Rep.objects.order_by("pk").values_list("routing_credit", "last_assigned_at"))
    decision = route(LeadFactory(), dry_run=True)
    assert decision.rep is not None
    assert (
        list(Rep.objects.order_by("pk").values_list("routing_credit", "last_assigned_at")) == before
    )


def test_rule_with_inverted_size_range_is_refused():
    rule = RoutingRule(name="Odd", min_company_size=500, max_company_size=50)
    with pytest.raises(ValidationError, match="minimum company size 500 is above the maximum 50"):
        rule.full_clean()
