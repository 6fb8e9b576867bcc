"""The routing simulator in the admin: where a described lead would go, and why, with nothing
written."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from handoff import roles
from handoff.models import Handoff, HandoffEvent, Notification
from leads.models import Lead, LeadEvent, Stage
from leads.tests.factories import LeadFactory
from reps.models import Absence, Rep, RoutingRule
from reps.tests.factories import RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/admin/reps/routingrule/simulate/"
AT = "2026-12-01 15:00"  # a Tuesday
NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)


@pytest.fixture
def revops_client(client):
    revops = UserFactory(username="revops", is_staff=True, roles=[roles.REVOPS])
    revops.groups.get().permissions.add(*Permission.objects.filter(content_type__app_label="reps"))
    client.force_login(revops)
    return client


@pytest.fixture
def emea():
    team = TeamFactory(name="EMEA")
    reps = {
        name: RepFactory(user__username=name, team=team) for name in ("ann", "bob", "cid", "eve")
    }
    Rep.objects.filter(pk=reps["bob"].pk).update(routing_credit=10.0)
    Rep.objects.filter(pk=reps["cid"].pk).update(active=False)
    Absence.objects.create(
        rep=reps["eve"], starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=1)
    )
    rule = RoutingRule.objects.create(
        name="Europe", position=1, countries="France, Germany", team=team
    )
    return rule, reps


def snapshot() -> tuple:
    return (
        list(Rep.objects.order_by("pk").values_list("pk", "routing_credit", "last_assigned_at")),
        Lead.objects.count(),
        LeadEvent.objects.count(),
        Handoff.objects.count(),
        HandoffEvent.objects.count(),
        Notification.objects.count(),
    )


def test_the_simulator_shows_rule_eligible_reps_with_credit_skipped_reps_and_the_pick(
    revops_client, emea
):
    rule, reps = emea
    before = snapshot()

    with CaptureQueriesContext(connection) as queries:
        response = revops_client.get(
            URL, {"country": "france", "score": "40", "email": "jo@acme.example", "at": AT}
        )

    assert response.status_code == 200
    simulation = response.context["simulation"]
    assert (simulation.route, simulation.rule, simulation.pick) == ("rule", rule, reps["bob"])
    assert [
        (row.rep.user.username, row.credit, row.credit_at_pick, row.assigned_this_week)
        for row in simulation.eligible
    ] == [("ann", 0.0, 50.0, 0), ("bob", 10.0, 60.0, 0)]
    assert [(rep.user.username, reason) for rep, reason in simulation.skipped] == [
        ("cid", "inactive"),
        ("eve", "out of office"),
    ]
    page = response.content.decode()
    assert "Route: rule <strong>Europe</strong> (position 1)." in page
    assert "Pick: <strong>bob</strong>." in page
    # Nothing was written: no lead, no handoff, no event, no notification, credits unchanged.
    assert snapshot() == before
    writes = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []


def test_the_simulator_leaves_the_round_robin_where_it_was(revops_client, emea):
    _, reps = emea

    picks = [
        revops_client.get(URL, {"country": "Germany", "score": "0", "at": AT})
        .context["simulation"]
        .pick
        for _ in range(3)
    ]

    assert picks == [reps["bob"], reps["bob"], reps["bob"]]


def test_the_account_owner_takes_a_lead_from_a_company_they_already_work(revops_client, emea):
    _, reps = emea
    worked = LeadFactory(company="Acme", email="buyer@acme.example", stage=Stage.MQL)
    Handoff.objects.create(
        lead=worked, rep=reps["ann"], first_response_hours=4, assigned_at=NOW, due_at=NOW
    )
    before = snapshot()

    response = revops_client.get(
        URL, {"country": "france", "score": "0", "email": "cfo@acme.example", "at": AT}
    )

    simulation = response.context["simulation"]
    assert (simulation.route, simulation.rule, simulation.pick) == (
        "account owner",
        None,
        reps["ann"],
    )
    assert [row.rep for row in simulation.eligible] == [reps["ann"]]
    assert snapshot() == before


def test_a_lead_no_rule_matches_goes_to_every_active_rep(revops_client, emea):
    _, reps = emea
    other = RepFactory(user__username="zed", team=None)

    response = revops_client.get(URL, {"country": "Brazil", "score": "0", "at": AT})

    simulation = response.context["simulation"]
    assert (simulation.route, simulation.rule) == ("all reps", None)
    assert [row.rep.user.username for row in simulation.eligible] == ["ann", "bob", "zed"]
    assert simulation.pick == reps["bob"]
    assert other in [row.rep for row in simulation.eligible]
    assert "Route: no rule matched, so every active rep is a candidate." in (
        response.content.decode()
    )


def test_with_nobody_eligible_the_simulator_says_the_lead_would_wait(revops_client, emea):
    _, reps = emea
    Rep.objects.filter(pk__in=[reps["ann"].pk, reps["bob"].pk]).update(active=False)

    response = revops_client.get(URL, {"country": "France", "score": "0", "at": AT})

    simulation = response.context["simulation"]
    assert (simulation.pick, simulation.eligible) == (None, [])
    assert [(rep.user.username, reason) for rep, reason in simulation.skipped] == [
        ("ann", "inactive"),
        ("bob", "inactive"),
        ("cid", "inactive"),
        ("eve", "out of office"),
    ]
    assert "Pick: nobody." in response.content.decode()


def test_bad_input_names_the_field_and_simulates_nothing(revops_client, emea):
    response = revops_client.get(URL, {"score": "high", "company_size": "-3", "at": AT})

    assert response.status_code == 200
    assert response.context["simulation"] is None
    assert response.context["form"].errors == {
        "score": ["Enter a whole number."],
        "company_size": ["Ensure this value is greater than or equal to 0."],
    }


@pytest.mark.parametrize(
    ("at", "message"),
    [
        ("9999-12-31 23:59", "'9999-12-31 23:59' is not between 2000-01-01 and 2100-01-01"),
        ("0001-01-01 00:00", "'0001-01-01 00:00' is not between 2000-01-01 and 2100-01-01"),
        ("2100-01-01 00:00", "'2100-01-01 00:00' is not between 2000-01-01 and 2100-01-01"),
    ],
)
def test_an_instant_outside_the_calendar_window_is_a_field_error(revops_client, emea, at, message):
    before = snapshot()

    response = revops_client.get(URL, {"score": "0", "at": at})

    assert response.status_code == 200
    assert response.context["simulation"] is None
    assert response.context["form"].errors == {"at": [message]}
    assert snapshot() == before


def test_an_empty_form_shows_no_result(revops_client):
    response = revops_client.get(URL)

    assert response.status_code == 200
    assert response.context["simulation"] is None


def test_the_rule_list_links_to_the_simulator(revops_client):
    response = revops_client.get("/admin/reps/routingrule/")

    assert f'href="{URL}"' in response.content.decode()


def test_staff_without_the_routing_permission_are_refused(client):
    client.force_login(UserFactory(username="marketing", is_staff=True, roles=[roles.MARKETING]))

    response = client.get(URL, {"score": "0"})

    assert response.status_code == 403


def test_a_rep_who_is_not_staff_is_sent_to_the_admin_login(client):
    client.force_login(UserFactory(username="bdr", roles=[roles.BDR]))

    response = client.get(URL)

    assert (response.status_code, response.url) == (302, f"/admin/login/?next={URL}")
