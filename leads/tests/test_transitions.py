import pytest
from django.db import transaction

from handoff.errors import TransitionRefused
from leads.models import BantStatus, Lead, LeadEvent, Stage
from leads.services import SQL_MISSING, lead_transition
from leads.tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

# Every transition and the stages it may start from.
ALLOWED = {
    "qualify_mql": {Stage.LEAD, Stage.RECYCLED},
    "qualify_sql": {Stage.MQL},
    "open_opportunity": {Stage.SQL},
    "win": {Stage.OPPORTUNITY},
    "reject": {Stage.MQL, Stage.SQL},
    "recycle": {Stage.REJECTED},
    "disqualify": {Stage.LEAD, Stage.REJECTED, Stage.RECYCLED},
}
TARGET = {
    "qualify_mql": Stage.MQL,
    "qualify_sql": Stage.SQL,
    "open_opportunity": Stage.OPPORTUNITY,
    "win": Stage.CUSTOMER,
    "reject": Stage.REJECTED,
    "recycle": Stage.RECYCLED,
    "disqualify": Stage.DISQUALIFIED,
}
CASES = [(name, stage, stage in allowed) for name, allowed in ALLOWED.items() for stage in Stage]


def lead_in(stage: Stage) -> Lead:
    lead = LeadFactory(
        budget_status=BantStatus.CONFIRMED,
        authority_status=BantStatus.CONFIRMED,
        need_status=BantStatus.CONFIRMED,
        timeline_status=BantStatus.CONFIRMED,
        ready_for_demo=True,
    )
    # The stage field is protected; tests place a lead in a stage the way a fixture would.
    Lead.objects.filter(pk=lead.pk).update(stage=stage)
    return Lead.objects.get(pk=lead.pk)


@pytest.mark.parametrize(("transition", "stage", "allowed"), CASES)
def test_every_transition_from_every_stage(transition, stage, allowed, django_user_model):
    actor = django_user_model.objects.create_user("actor")
    lead = lead_in(stage)
    if allowed:
        with transaction.atomic():
            event = lead_transition(lead=lead, transition=transition, actor=actor, reason="test")
        lead.refresh_from_db()
        assert lead.stage == TARGET[transition]
        assert (event.from_stage, event.to_stage, event.actor, event.reason) == (
            stage,
            TARGET[transition],
            actor,
            "test",
        )
    else:
        with pytest.raises(TransitionRefused), transaction.atomic():
            lead_transition(lead=lead, transition=transition, actor=actor)
        lead.refresh_from_db()
        assert lead.stage == stage
        assert LeadEvent.objects.count() == 0


def test_sql_is_refused_with_the_missing_bant_parts():
    lead = lead_in(Stage.MQL)
    Lead.objects.filter(pk=lead.pk).update(
        authority_status=BantStatus.NOT_MET,
        timeline_status=BantStatus.UNKNOWN,
        ready_for_demo=False,
    )
    lead.refresh_from_db()
    with pytest.raises(TransitionRefused) as caught, transaction.atomic():
        lead_transition(lead=lead, transition="qualify_sql", actor=None)
    assert str(caught.value) == SQL_MISSING.format(
        missing="authority, timeline, ready for a demo or proposal"
    )
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL
    assert not LeadEvent.objects.exists()


def test_stage_cannot_be_assigned_directly():
    lead = LeadFactory()
    with pytest.raises(AttributeError):
        lead.stage = Stage.CUSTOMER
