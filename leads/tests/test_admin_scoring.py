"""The scoring preview on the rule and threshold forms of the admin."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from handoff import roles
from leads.admin_scoring import PREVIEW_BUTTON
from leads.models import ActivityKind, Lead, ScoringRule, ScoringSettings
from leads.tests.factories import ActivityFactory, LeadFactory
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_time():
    with time_machine.travel(NOW, tick=False):
        yield


def scoring_permissions() -> list[Permission]:
    return list(
        Permission.objects.filter(
            content_type__app_label="leads",
            content_type__model__in=["scoringrule", "scoringsettings"],
        )
    )


@pytest.fixture
def revops_client(client):
    revops = UserFactory(username="revops", is_staff=True, roles=[roles.REVOPS])
    revops.groups.get().permissions.add(*scoring_permissions())
    client.force_login(revops)
    return client


@pytest.fixture
def marketing_client(client):
    # Staff, and even allowed to edit rules, but not RevOps: the protocol is not theirs.
    marketer = UserFactory(username="marketer", is_staff=True, roles=[roles.MARKETING])
    marketer.user_permissions.add(*scoring_permissions())
    client.force_login(marketer)
    return client


def webinar_rule() -> ScoringRule:
    return ScoringRule.objects.get(activity_kind=ActivityKind.WEBINAR_ATTENDED)


def rule_form(rule: ScoringRule, **changes: object) -> dict[str, object]:
    fields = [
        "name", "category", "points", "position", "field", "operator", "value", "activity_kind",
        "detail_contains", "half_life_days", "window_days", "cap",
    ]  # fmt: skip
    data = {name: "" if getattr(rule, name) is None else getattr(rule, name) for name in fields}
    if rule.active:
        data["active"] = "on"
    if rule.disqualifier:
        data["disqualifier"] = "on"
    data.update(changes)
    return data


def lead_created(days_ago: int, **fields: object) -> Lead:
    lead = LeadFactory(**fields)
    Lead.objects.filter(pk=lead.pk).update(created_at=NOW - timedelta(days=days_ago))
    return lead


@pytest.fixture
def leads_of_the_quarter() -> None:
    """Under the shipped rules (threshold 50): a company email is worth 10, a demo request
    50, two webinars 30 (capped at 30). One lead qualifies today; two would with webinars at
    25 points capped at 50; an older lead and a student never count."""
    demo = lead_created(5, job_title="", email="demo@corp.example")
    ActivityFactory(lead=demo, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    for days_ago in (1, 60):
        lead = lead_created(days_ago, job_title="", email=f"web{days_ago}@corp.example")
        ActivityFactory(lead=lead, kind=ActivityKind.WEBINAR_ATTENDED, quantity=2, occurred_at=NOW)
    student = lead_created(3, job_title="Student", email="student@corp.example")
    ActivityFactory(lead=student, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    too_old = lead_created(91, job_title="", email="old@corp.example")
    ActivityFactory(lead=too_old, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)


def everything_saved() -> tuple[list, list, list, int]:
    return (
        list(ScoringRule.objects.order_by("pk").values()),
        list(ScoringSettings.objects.values()),
        list(Lead.objects.order_by("pk").values_list("pk", "score", "score_breakdown", "stage")),
        LogEntry.objects.count(),
    )


def test_rule_preview_counts_mqls_now_and_with_the_change_against_capacity(
    revops_client, leads_of_the_quarter
):
    RepFactory(weekly_capacity=50)
    RepFactory(weekly_capacity=30)
    RepFactory(weekly_capacity=100, active=False)
    rule = webinar_rule()
    url = reverse("admin:leads_scoringrule_change", args=[rule.pk])

    response = revops_client.post(url, {**rule_form(rule, points=25, cap=50), PREVIEW_BUTTON: "1"})

    assert response.status_code == 200
    preview = response.context["preview"]
    assert (preview.days, preview.leads) == (90, 4)
    assert (preview.qualify_now, preview.would_qualify, preview.difference) == (1, 3, 2)
    assert preview.weekly_capacity == 80
    assert preview.over_capacity is False
    page = response.content.decode()
    assert "<th>MQLs in 90 days</th><td>1</td><td>3</td><td>+2</td>" in page
    assert "<th>MQLs per week</th><td>0.1</td><td>0.2</td><td>+0.2</td>" in page
    assert "80 (0% used now, 0% with this change)" in page
    assert 'id="preview-over-capacity"' not in page
    # The form is shown again with the edited values, ready to be saved.
    assert response.context["adminform"].form["points"].value() == "25"
    assert 'name="_save"' in page


def test_rule_preview_writes_nothing(revops_client, leads_of_the_quarter):
    RepFactory(weekly_capacity=50)
    rule = webinar_rule()
    before = everything_saved()

    response = revops_client.post(
        reverse("admin:leads_scoringrule_change", args=[rule.pk]),
        {**rule_form(rule, points=25, cap=50, active=""), PREVIEW_BUTTON: "1"},
    )

    assert response.status_code == 200
    assert everything_saved() == before
    assert webinar_rule().points == 15


def test_preview_of_a_new_rule_adds_it_to_the_saved_ones(revops_client, leads_of_the_quarter):
    data = {
        "name": "Corporate email", "category": "fit", "points": "40", "position": "0",
        "field": "email_domain_kind", "operator": "equals", "value": "company", "active": "on",
    }  # fmt: skip
    rules_before = ScoringRule.objects.count()

    response = revops_client.post(
        reverse("admin:leads_scoringrule_add"), {**data, PREVIEW_BUTTON: "1"}
    )

    # 10 + 40 for the email alone: every lead of the quarter but the student qualifies.
    preview = response.context["preview"]
    assert (preview.qualify_now, preview.would_qualify) == (1, 3)
    assert ScoringRule.objects.count() == rules_before


def test_an_invalid_rule_shows_its_error_instead_of_a_preview(revops_client, leads_of_the_quarter):
    rule = ScoringRule.objects.get(name="Senior or buying role")
    before = everything_saved()

    response = revops_client.post(
        reverse("admin:leads_scoringrule_change", args=[rule.pk]),
        {**rule_form(rule, value="(head"), PREVIEW_BUTTON: "1"},
    )

    assert response.status_code == 200
    assert response.context["preview"] is None
    page = response.content.decode()
    assert "is not a valid pattern" in page
    assert 'id="scoring-preview"' not in page
    assert everything_saved() == before


def test_threshold_preview_warns_when_the_weekly_volume_exceeds_capacity(revops_client):
    RepFactory(weekly_capacity=2)
    RepFactory(weekly_capacity=50, active=False)
    # 30 leads worth 10 points each (a company email): none at 50, all at 10.
    for number in range(30):
        lead_created(number, job_title="", email=f"lead{number}@corp{number}.example")
    settings_row = ScoringSettings.current()
    before = everything_saved()

    response = revops_client.post(
        reverse("admin:leads_scoringsettings_change", args=[settings_row.pk]),
        {"mql_threshold": "10", "fit_minimum": "0", PREVIEW_BUTTON: "1"},
    )

    preview = response.context["preview"]
    assert (preview.leads, preview.qualify_now, preview.would_qualify) == (30, 0, 30)
    assert preview.weekly_capacity == 2
    assert preview.weekly_volume == pytest.approx(30 * 7 / 90)
    assert preview.over_capacity is True
    page = response.content.decode()
    assert "<th>MQLs per week</th><td>0.0</td><td>2.3</td><td>+2.3</td>" in page
    assert "2 (0% used now, 117% with this change)" in page
    assert "more than their weekly capacity of 2" in page
    assert everything_saved() == before


def test_a_threshold_that_is_not_a_number_is_refused_without_a_preview(revops_client):
    settings_row = ScoringSettings.current()

    response = revops_client.post(
        reverse("admin:leads_scoringsettings_change", args=[settings_row.pk]),
        {"mql_threshold": "fifty", "fit_minimum": "0", PREVIEW_BUTTON: "1"},
    )

    assert response.status_code == 200
    assert response.context["preview"] is None
    assert "Enter a whole number." in response.content.decode()
    assert ScoringSettings.current().mql_threshold == 50


@pytest.mark.parametrize(
    ("threshold", "fit_minimum", "field", "message"),
    [
        ("-10", "0", "mql_threshold", "Ensure this value is greater than or equal to 1."),
        ("50", "-1", "fit_minimum", "Ensure this value is greater than or equal to 0."),
        (
            "50",
            "80",
            "fit_minimum",
            "The fit minimum (80) cannot be above the MQL threshold (50): raise the threshold "
            "instead.",
        ),
    ],
)
def test_thresholds_out_of_bounds_are_refused_on_save(
    revops_client, threshold, fit_minimum, field, message
):
    settings_row = ScoringSettings.current()

    response = revops_client.post(
        reverse("admin:leads_scoringsettings_change", args=[settings_row.pk]),
        {"mql_threshold": threshold, "fit_minimum": fit_minimum, "_save": "Save"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {field: [message]}
    settings_row.refresh_from_db()
    assert (settings_row.mql_threshold, settings_row.fit_minimum) == (50, 0)


def test_saving_stays_a_separate_action(revops_client):
    rule = webinar_rule()
    url = reverse("admin:leads_scoringrule_change", args=[rule.pk])

    page = revops_client.get(url).content.decode()
    saved = revops_client.post(url, {**rule_form(rule, points=25), "_save": "Save"})

    # The preview button comes first, so that the Enter key previews rather than saves.
    assert page.index('name="_preview"') < page.index('name="_save"')
    assert saved.status_code == 302
    assert webinar_rule().points == 25


def test_preview_queries_do_not_grow_with_the_leads(revops_client, leads_of_the_quarter):
    rule = webinar_rule()
    url = reverse("admin:leads_scoringrule_change", args=[rule.pk])
    data = {**rule_form(rule, points=25, cap=50), PREVIEW_BUTTON: "1"}
    revops_client.post(url, data)

    with CaptureQueriesContext(connection) as few:
        revops_client.post(url, data)
    for number in range(40):
        lead = lead_created(1, email=f"more{number}@corp.example")
        ActivityFactory(lead=lead, kind=ActivityKind.WEBINAR_ATTENDED, occurred_at=NOW)
    with CaptureQueriesContext(connection) as many:
        response = revops_client.post(url, data)

    assert response.context["preview"].leads == 44
    assert len(many) == len(few)


def test_a_staff_user_who_is_not_revops_cannot_preview(marketing_client, leads_of_the_quarter):
    rule = webinar_rule()
    url = reverse("admin:leads_scoringrule_change", args=[rule.pk])
    before = everything_saved()

    page = marketing_client.get(url)
    refused = marketing_client.post(url, {**rule_form(rule, points=25), PREVIEW_BUTTON: "1"})
    refused_settings = marketing_client.post(
        reverse("admin:leads_scoringsettings_change", args=[ScoringSettings.current().pk]),
        {"mql_threshold": "10", "fit_minimum": "0", PREVIEW_BUTTON: "1"},
    )

    assert page.status_code == 200
    assert 'name="_preview"' not in page.content.decode()
    assert (refused.status_code, refused_settings.status_code) == (403, 403)
    assert everything_saved() == before


def test_a_superuser_may_preview(client, leads_of_the_quarter):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    settings_row = ScoringSettings.current()

    response = client.post(
        reverse("admin:leads_scoringsettings_change", args=[settings_row.pk]),
        {"mql_threshold": "40", "fit_minimum": "0", PREVIEW_BUTTON: "1"},
    )

    # At 40 the two webinar leads (40 points each) join the demo request.
    assert (response.context["preview"].qualify_now, response.context["preview"].would_qualify) == (
        1,
        3,
    )
