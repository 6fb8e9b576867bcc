from datetime import timedelta

import factory
from django.utils import timezone

from handoff.models import Handoff
from leads.models import Stage
from leads.tests.factories import LeadFactory
from reps.tests.factories import RepFactory


class HandoffFactory(factory.django.DjangoModelFactory):
    """An open handoff with a deadline the test chooses, for pages that only read handoffs.

    Tests of what the services do make handoffs through handoff_assign instead.
    """

    class Meta:
        model = Handoff

    lead = factory.SubFactory(
        LeadFactory, stage=Stage.MQL, mql_count=1, last_name="Example", company="Acme Ltd"
    )
    rep = factory.SubFactory(RepFactory)
    first_response_hours = 4
    assigned_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyAttribute(lambda handoff: handoff.assigned_at + timedelta(hours=4))
