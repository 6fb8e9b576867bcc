from datetime import UTC, datetime, timedelta

import pytest

from handoff.metrics import acceptance_rate, mql_to_sql_rate, sla_compliance, speed_to_lead
from handoff.models import Handoff
from handoff.services import handoff_log_attempt, handoff_reject
from leads.models import ActivityKind, Lead, LeadEvent, Stage
from leads.services import lead_qualify_if_ready, leads_rescore
from leads.tests.factories import ActivityFactory, LeadFactory, SourceFactory
from reps.tests.factories import RepFactory, TeamFactory

pytestmark = pytest.mark.django_db

# Monday 30 November 2026, 16:00 UTC; reps work 09:00-17:00 UTC, so a 4-hour budget runs to
# Tuesday 12:00.
MONDAY = datetime(2026, 11, 30, 16, tzinfo=UTC)


@pytest.fixture
def setup():
    team = TeamFactory(name="Inbound")
    ann = RepFactory(user__username="ann", team=team)
    bob = RepFactory(user__username="bob", team=team)
    web = SourceFactory(slug="web", name="Web")
    handoffs = []
    for _ in range(4):
        lead = LeadFactory(source=web)
        ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=MONDAY)
        leads_rescore(lead_ids=[lead.pk], now=MONDAY)
        handoffs.append(lead_qualify_if_ready(lead_id=lead.pk, now=MONDAY))
    return ann, bob, handoffs


def test_sla_compliance_counts_met_breached_and_waiting(setup):
    ann, bob, (h1, h2, h3, h4) = setup
    assert [h.rep for h in (h1, h2, h3, h4)] == [ann, bob, ann, bob]
    assert h1.due_at == datetime(2026, 12, 1, 12, tzinfo=UTC)
    # Ann answers h1 in time and h3 late; bob answers h2 in time and leaves h4 waiting.
    handoff_log_attempt(
        handoff_id=h1.pk,
        actor=ann.user,
        channel="call",
        outcome="connected",
        at=MONDAY + timedelta(minutes=30),
    )
    handoff_log_attempt(
        handoff_id=h3.pk,
        actor=ann.user,
        channel="call",
        outcome="connected",
        at=h3.due_at + timedelta(minutes=1),
    )
    handoff_log_attempt(
        handoff_id=h2.pk, actor=bob.user, channel="email", outcome="left_message", at=h2.due_at
    )

    before_deadline = sla_compliance(now=h4.due_at - timedelta(minutes=1))
    assert [(row.label, row.met, row.breached) for row in before_deadline] == [("All", 2, 1)]

    after = sla_compliance(now=h4.due_at + timedelta(hours=1), group_by="rep")
    assert [(row.label, row.met, row.breached, row.rate) for row in after] == [
        ("ann", 1, 1, 0.5),
        ("bob", 1, 1, 0.5),
    ]
    by_source = sla_compliance(now=h4.due_at + timedelta(hours=1), group_by="source")
    assert [(row.label, row.total) for row in by_source] == [("Web", 4)]


def test_speed_to_lead_separates_system_and_rep_parts_in_wall_and_business_hours(setup):
    ann, _, (h1, *_) = setup
    Lead.objects.filter(pk=h1.lead_id).update(mql_at=MONDAY - timedelta(minutes=6))
    # Answered Tuesday 10:00: 18 hours of wall clock, but only 2 business hours (16-17, 9-10).
    handoff_log_attempt(
        handoff_id=h1.pk,
        actor=ann.user,
        channel="call",
        outcome="connected",
        at=datetime(2026, 12, 1, 10, tzinfo=UTC),
    )
    (row,) = speed_to_lead()
    assert row.count == 1
    assert row.median_system_hours == 0.1
    assert row.median_rep_hours == 18.0
    assert row.median_rep_business_hours == 2.0
    assert row.median_total_hours == 18.1
    (team_row,) = speed_to_lead(group_by="team")
    assert team_row.label == "Inbound"


def test_mql_to_sql_rate_and_acceptance_rate(setup):
    ann, bob, (h1, h2, h3, h4) = setup
    handoff_reject(handoff_id=h2.pk, actor=bob.user, reason_code="not-now", note="Budget next year")
    sql_lead = Lead.objects.get(pk=h1.lead_id)
    Lead.objects.filter(pk=sql_lead.pk).update(stage=Stage.SQL)
    LeadEvent.objects.create(lead=sql_lead, from_stage=Stage.MQL, to_stage=Stage.SQL)
    Handoff.objects.filter(pk=h1.pk).update(state="qualified")

    assert mql_to_sql_rate() == {"mqls": 4, "sqls": 1, "rate": 0.25}
    assert acceptance_rate() == [{"label": "All", "ended": 2, "rejected": 1, "rate": 0.5}]
    assert acceptance_rate(group_by="rep") == [
        {"label": "ann", "ended": 1, "rejected": 0, "rate": 1.0},
        {"label": "bob", "ended": 1, "rejected": 1, "rate": 0.0},
    ]
