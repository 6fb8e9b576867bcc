import pytest

from feedback.services import RECYCLE_NOT_ALLOWED, lead_recycle
from handoff import roles
from handoff.errors import PermissionRefused, TransitionRefused
from leads.models import Lead, LeadEvent, Stage
from leads.tests.factories import LeadFactory
from reps.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_recycle_moves_a_rejected_lead_to_nurture_and_records_who():
    marketing = UserFactory(roles=[roles.MARKETING])
    lead = LeadFactory(stage=Stage.REJECTED)

    recycled = lead_recycle(lead_id=lead.pk, actor=marketing)

    assert recycled.stage == Stage.RECYCLED
    assert Lead.objects.get(pk=lead.pk).stage == Stage.RECYCLED
    assert list(LeadEvent.objects.values_list("lead_id", "from_stage", "to_stage", "actor_id")) == [
        (lead.pk, Stage.REJECTED, Stage.RECYCLED, marketing.pk)
    ]


@pytest.mark.parametrize("role", [roles.REVOPS, roles.MANAGER, roles.BDR])
def test_only_marketing_recycles(role):
    lead = LeadFactory(stage=Stage.REJECTED)

    with pytest.raises(PermissionRefused, match=RECYCLE_NOT_ALLOWED):
        lead_recycle(lead_id=lead.pk, actor=UserFactory(roles=[role]))

    assert Lead.objects.get(pk=lead.pk).stage == Stage.REJECTED
    assert LeadEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("stage", "words"),
    [
        (Stage.RECYCLED, "recycled to nurture"),
        (Stage.DISQUALIFIED, "disqualified"),
        (Stage.MQL, "mql"),
    ],
)
def test_a_lead_not_waiting_in_the_rejected_stage_is_refused(stage, words):
    lead = LeadFactory(stage=stage)

    with pytest.raises(TransitionRefused) as refused:
        lead_recycle(lead_id=lead.pk, actor=UserFactory(roles=[roles.MARKETING]))

    assert str(refused.value) == f"Only a rejected lead can be recycled; this one is {words}."
    assert Lead.objects.get(pk=lead.pk).stage == stage
    assert LeadEvent.objects.count() == 0
