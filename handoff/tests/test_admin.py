"""The admin pages RevOps works in, and the rule that no admin form writes a state field."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from handoff.documentation import REQUIRABLE_FIELDS
from handoff.models import (
    Escalation,
    EscalationLevel,
    Handoff,
    HandoffEvent,
    RequiredField,
    SlaPolicy,
)
from handoff.services import handoff_sla_check
from leads.services import lead_qualify_if_ready
from leads.tests.factories import LeadFactory
from reps.models import Rep

pytestmark = pytest.mark.django_db

ADMIN_MODELS = [
    "handoff/slapolicy",
    "handoff/requiredfield",
    "handoff/handoff",
    "handoff/escalation",
    "handoff/notification",
    "reps/rep",
    "reps/team",
    "reps/companydayoff",
    "reps/routingrule",
    "feedback/rejectionreason",
    "feedback/rejection",
]


@pytest.fixture
def revops_client(client, django_user_model):
    call_command("seed_demo", stdout=StringIO())
    client.force_login(django_user_model.objects.get(username="revops"))
    return client


@pytest.fixture
def handoff():
    call_command("seed_demo", stdout=StringIO())
    lead = LeadFactory(fit_score=25, engagement_score=50, score=75)
    return lead_qualify_if_ready(lead_id=lead.pk)


@pytest.mark.parametrize("model", ADMIN_MODELS)
def test_revops_can_open_every_admin_list(revops_client, model):
    response = revops_client.get(f"/admin/{model}/")

    assert response.status_code == 200


def test_revops_requires_a_crm_field_in_the_admin_and_an_unknown_one_is_refused(revops_client):
    url = reverse("admin:handoff_requiredfield_add")

    refused = revops_client.post(url, {"point": "to_ae", "field": "shoe_size", "position": 1})
    added = revops_client.post(
        url, {"point": "to_ae", "field": "phone", "label": "Phone", "position": 1, "active": "on"}
    )

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["field"] == [
        "'shoe_size' is not a lead field that can be required. Use one of "
        + ", ".join(sorted(REQUIRABLE_FIELDS))
        + "."
    ]
    assert added.status_code == 302
    assert list(RequiredField.objects.values_list("point", "field", "active")) == [
        ("to_ae", "phone", True)
    ]


def test_revops_can_open_a_rep_with_hours_and_absences_inline(revops_client):
    rep = Rep.objects.get(user__username="bdr3")

    response = revops_client.get(reverse("admin:reps_rep_change", args=[rep.pk]))

    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.initial_form_count() == 10


def test_handoff_admin_shows_a_handoff_read_only_and_refuses_a_post(revops_client, handoff):
    url = reverse("admin:handoff_handoff_change", args=[handoff.pk])

    page = revops_client.get(url)
    post = revops_client.post(url, {"state": "qualified"})

    assert page.status_code == 200
    assert 'name="state"' not in page.content.decode()
    assert post.status_code == 403
    handoff.refresh_from_db()
    assert handoff.state == "assigned"
    assert revops_client.get(reverse("admin:handoff_handoff_add")).status_code == 403


def test_escalate_action_calls_the_service_and_escalates_only_overdue_handoffs(
    revops_client, handoff
):
    in_time = revops_client.post(
        reverse("admin:handoff_handoff_changelist"),
        {"action": "escalate_overdue", "_selected_action": [handoff.pk]},
    )
    assert in_time.status_code == 302
    assert Escalation.objects.count() == 0

    # A policy whose only step at the deadline is the manager alert, so that the rep's working
    # hours at the moment the test runs do not matter.
    alert_only = SlaPolicy.objects.create(
        name="Alert only", warning_percent=0, remind_rep_after_hours=None
    )
    Handoff.objects.filter(pk=handoff.pk).update(due_at=handoff.assigned_at, policy=alert_only)
    revops_client.post(
        reverse("admin:handoff_handoff_changelist"),
        {"action": "escalate_overdue", "_selected_action": [handoff.pk]},
    )

    assert Escalation.objects.get().handoff_id == handoff.pk
    assert Escalation.objects.get().level == EscalationLevel.MANAGER_ALERT
    assert handoff.events.filter(kind=HandoffEvent.Kind.ESCALATED).count() == 1
    # The service itself takes no step twice.
    assert handoff_sla_check(handoff_id=handoff.pk) == []


def test_escalation_and_rejection_admin_refuse_changes(revops_client):
    assert revops_client.get(reverse("admin:handoff_escalation_add")).status_code == 403
    assert revops_client.get(reverse("admin:feedback_rejection_add")).status_code == 403
