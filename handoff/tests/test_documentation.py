from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from handoff.errors import HandoffError, TransitionRefused
from handoff.models import HandoffPoint, RequiredField
from handoff.services import (
    NOT_AN_ACCOUNT_EXECUTIVE,
    lead_open_opportunity,
    leads_assign_waiting,
)
from leads.models import ActivityKind, Lead, LeadEvent, Stage
from leads.services import lead_qualify_if_ready, leads_rescore
from leads.tests.factories import ActivityFactory, LeadFactory
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)


def qualified_lead(**fields) -> Lead:  # noqa: ANN003
    lead = LeadFactory(**fields)
    ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    leads_rescore(lead_ids=[lead.pk], now=NOW)
    return lead


def test_mql_missing_a_required_field_waits_until_it_is_filled():
    RepFactory()
    RequiredField.objects.create(point=HandoffPoint.TO_BDR, field="phone", label="Phone number")
    lead = qualified_lead(phone="")
    assert lead_qualify_if_ready(lead_id=lead.pk, now=NOW) is None
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL
    assert leads_assign_waiting(now=NOW) == 0

    Lead.objects.filter(pk=lead.pk).update(phone="+44 20 7946 0000")
    assert leads_assign_waiting(now=NOW) == 1


def test_required_field_must_be_a_known_lead_field():
    with pytest.raises(ValidationError, match="'shoe_size' is not a lead field"):
        RequiredField(point=HandoffPoint.TO_BDR, field="shoe_size").full_clean()


@pytest.fixture
def sql_lead():
    rep = RepFactory()
    lead = qualified_lead(pain="")
    lead_qualify_if_ready(lead_id=lead.pk, now=NOW)
    Lead.objects.filter(pk=lead.pk).update(stage=Stage.SQL)
    return rep, lead


def test_opportunity_is_refused_until_required_fields_are_complete(sql_lead):
    rep, lead = sql_lead
    executive = UserFactory(username="ae", roles=["Account executive"])
    RequiredField.objects.create(point=HandoffPoint.TO_ACCOUNT_EXECUTIVE, field="pain")
    RequiredField.objects.create(point=HandoffPoint.TO_ACCOUNT_EXECUTIVE, field="timeline_note")
    with pytest.raises(TransitionRefused) as caught:
        lead_open_opportunity(lead_id=lead.pk, actor=rep.user, account_executive_id=executive.pk)
    assert str(caught.value) == (
        "This lead cannot go to an account executive yet. Missing: Pain, Timeline note."
    )
    lead.refresh_from_db()
    assert (lead.stage, lead.account_executive) == (Stage.SQL, None)

    Lead.objects.filter(pk=lead.pk).update(pain="Spreadsheets", timeline_note="Q1")
    lead_open_opportunity(lead_id=lead.pk, actor=rep.user, account_executive_id=executive.pk)
    lead.refresh_from_db()
    assert (lead.stage, lead.account_executive) == (Stage.OPPORTUNITY, executive)
    assert LeadEvent.objects.filter(lead=lead, to_stage=Stage.OPPORTUNITY).count() == 1
    assert executive.notifications.filter(kind="opportunity_handed_over").count() == 1


def test_opportunity_needs_an_account_executive(sql_lead):
    rep, lead = sql_lead
    not_executive = UserFactory(username="bdr2", roles=["BDR"])
    with pytest.raises(HandoffError, match=NOT_AN_ACCOUNT_EXECUTIVE):
        lead_open_opportunity(
            lead_id=lead.pk, actor=rep.user, account_executive_id=not_executive.pk
        )
