from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from feedback.models import Rejection
from handoff.models import Handoff
from leads.models import ActivityKind
from leads.services import lead_qualify_if_ready, leads_rescore
from leads.tests.factories import ActivityFactory, LeadFactory
from reps.tests.factories import RepFactory

pytestmark = pytest.mark.django_db


def test_demo_history_adds_rejections_answers_and_missed_deadlines_once():
    RepFactory()
    for _ in range(9):
        lead = LeadFactory()
        ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST)
        leads_rescore(lead_ids=[lead.pk])
        lead_qualify_if_ready(lead_id=lead.pk)

    out = StringIO()
    call_command("demo_history", stdout=out)
    call_command("demo_history", stdout=out)

    assert out.getvalue().splitlines() == [
        "Demo history: 3 rejections, 3 answered, 2 missed deadlines for beat to escalate.",
        "Demo history already there; nothing to do.",
    ]
    assert sorted(Rejection.objects.values_list("reason__code", flat=True)) == [
        "bad-contact-data",
        "not-now",
        "outside-icp",
    ]
    assert Handoff.objects.filter(first_response_at__isnull=False, state="assigned").count() == 2
    assert Handoff.objects.filter(state="accepted").count() == 1
    missed = Handoff.objects.filter(assigned_at__lt=timezone.now() - timedelta(days=1))
    assert missed.count() == 2
    assert all(handoff.due_at == handoff.next_check_at < timezone.now() for handoff in missed)
