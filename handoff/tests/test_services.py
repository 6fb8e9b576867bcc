from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail

from feedback.models import Rejection
from handoff.errors import HandoffError, PermissionRefused, TransitionConflict, TransitionRefused
from handoff.models import (
    ContactAttempt,
    Handoff,
    HandoffState,
    Notification,
    SlaPolicy,
)
from handoff.services import (
    NOTE_REQUIRED,
    REASON_REQUIRED,
    REASON_UNKNOWN,
    handoff_accept,
    handoff_log_attempt,
    handoff_qualify,
    handoff_reject,
    lead_bant_update,
)
from leads.models import ActivityKind, Lead, LeadEvent, ScoringRule, Stage
from leads.services import lead_qualify_if_ready, leads_rescore
from leads.tests.factories import ActivityFactory, LeadFactory, SourceFactory
from reps.models import WorkingPeriod
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

# Tuesday 1 December 2026, 20:00 UTC = 15:00 in New York.
NOW = datetime(2026, 12, 1, 20, tzinfo=UTC)


@pytest.fixture
def rep():
    return RepFactory(user__username="bdr", timezone="America/New_York")


def mql_ready_lead(**fields) -> Lead:  # noqa: ANN003
    """A lead whose activity clears the shipped threshold of 50 points."""
    lead = LeadFactory(**fields)
    ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    leads_rescore(lead_ids=[lead.pk], now=NOW)
    return lead


def assign(lead: Lead) -> Handoff:
    with time_machine.travel(NOW, tick=False):
        handoff = lead_qualify_if_ready(lead_id=lead.pk, now=NOW)
    assert handoff is not None
    return handoff


def test_qualifying_lead_becomes_mql_and_is_handed_off_with_business_hours_deadline(
    rep, django_capture_on_commit_callbacks
):
    lead = mql_ready_lead()
    with django_capture_on_commit_callbacks(execute=True):
        handoff = assign(lead)

    lead.refresh_from_db()
    assert lead.stage == Stage.MQL
    assert lead.mql_count == 1
    assert (handoff.rep, handoff.first_response_hours) == (rep, 4)
    # 15:00 New York + 4 business hours (closing at 17:00) = Wednesday 11:00 New York.
    assert handoff.due_at == datetime(2026, 12, 2, 16, tzinfo=UTC)
    assert list(LeadEvent.objects.values_list("from_stage", "to_stage")) == [("lead", "mql")]
    assert list(handoff.events.values_list("kind", flat=True)) == ["assigned"]
    notification = Notification.objects.get(recipient=rep.user)
    assert notification.kind == "handoff_assigned"
    assert notification.emailed_at is not None
    assert [message.to for message in mail.outbox] == [["bdr@example.com"]]


def test_sla_policy_for_the_source_sets_the_target(rep):
    demo = SourceFactory(slug="demo-request", name="Demo request")
    SlaPolicy.objects.create(name="Demo", source=demo, first_response_hours=1, position=1)
    handoff = assign(mql_ready_lead(source=demo))
    assert handoff.first_response_hours == 1
    assert handoff.due_at == datetime(2026, 12, 1, 21, tzinfo=UTC)


def test_lead_is_handed_off_only_once(rep):
    lead = mql_ready_lead()
    assign(lead)
    assert lead_qualify_if_ready(lead_id=lead.pk, now=NOW) is None
    assert Handoff.objects.count() == 1
    assert LeadEvent.objects.count() == 1


def test_lead_below_threshold_stays_a_lead(rep):
    ScoringRule.objects.all().delete()
    lead = LeadFactory()
    leads_rescore(lead_ids=[lead.pk], now=NOW)
    assert lead_qualify_if_ready(lead_id=lead.pk, now=NOW) is None
    lead.refresh_from_db()
    assert lead.stage == Stage.LEAD
    assert not Handoff.objects.exists()


def test_mql_waits_unassigned_and_managers_get_one_alert_a_day(rep):
    manager = UserFactory(username="boss", roles=["Manager"])
    WorkingPeriod.objects.filter(rep=rep).delete()
    first, second = mql_ready_lead(), mql_ready_lead()
    assert lead_qualify_if_ready(lead_id=first.pk, now=NOW) is None
    assert lead_qualify_if_ready(lead_id=second.pk, now=NOW) is None
    assert Lead.objects.filter(stage=Stage.MQL).count() == 2
    assert Notification.objects.filter(recipient=manager, kind="routing_exhausted").count() == 1


def test_accept_then_accept_again_is_a_conflict(rep):
    handoff = assign(mql_ready_lead())
    handoff_accept(handoff_id=handoff.pk, actor=rep.user)
    with pytest.raises(TransitionConflict):
        handoff_accept(handoff_id=handoff.pk, actor=rep.user)
    assert list(handoff.events.values_list("kind", flat=True)) == ["assigned", "accepted"]


def test_another_bdr_cannot_accept(rep):
    handoff = assign(mql_ready_lead())
    other = RepFactory(user__username="other")
    with pytest.raises(PermissionRefused):
        handoff_accept(handoff_id=handoff.pk, actor=other.user)
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.ASSIGNED


def test_first_attempt_is_the_first_response(rep):
    handoff = assign(mql_ready_lead())
    at = NOW + timedelta(minutes=30)
    handoff_log_attempt(
        handoff_id=handoff.pk, actor=rep.user, channel="call", outcome="no_answer", at=at
    )
    handoff_log_attempt(
        handoff_id=handoff.pk,
        actor=rep.user,
        channel="email",
        outcome="left_message",
        at=at + timedelta(hours=1),
    )
    handoff.refresh_from_db()
    assert handoff.first_response_at == at
    assert ContactAttempt.objects.filter(handoff=handoff).count() == 2


@pytest.mark.parametrize(
    ("reason", "note", "message"),
    [
        ("", "some note", REASON_REQUIRED),
        ("no-such-reason", "some note", REASON_UNKNOWN.format(reason="no-such-reason")),
        ("not-qualified", "   ", NOTE_REQUIRED),
    ],
)
def test_rejection_without_reason_or_note_changes_nothing(rep, reason, note, message):
    handoff = assign(mql_ready_lead())
    with pytest.raises(HandoffError) as caught:
        handoff_reject(handoff_id=handoff.pk, actor=rep.user, reason_code=reason, note=note)
    assert str(caught.value) == message
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.ASSIGNED
    assert handoff.first_response_at is None
    assert Lead.objects.get().stage == Stage.MQL
    assert not Rejection.objects.exists()
    assert list(handoff.events.values_list("kind", flat=True)) == ["assigned"]


@pytest.mark.parametrize(
    ("reason", "final_stage"),
    [("not-qualified", Stage.RECYCLED), ("outside-icp", Stage.DISQUALIFIED)],
)
def test_rejection_records_reason_and_moves_the_lead_as_the_reason_says(rep, reason, final_stage):
    handoff = assign(mql_ready_lead())
    handoff_reject(
        handoff_id=handoff.pk, actor=rep.user, reason_code=reason, note="No budget this year"
    )
    handoff.refresh_from_db()
    rejection = Rejection.objects.get()
    assert (rejection.reason.code, rejection.note, rejection.rejected_by) == (
        reason,
        "No budget this year",
        rep.user,
    )
    assert handoff.state == HandoffState.REJECTED
    assert handoff.first_response_at is not None
    lead = Lead.objects.get()
    assert lead.stage == final_stage
    assert list(lead.events.values_list("to_stage", flat=True)) == ["mql", "rejected", final_stage]


def test_split_shift_rep_deadline_skips_lunch():
    rep = RepFactory(
        user__username="split",
        timezone="Europe/Berlin",
        hours=[(1, time(9), time(12)), (1, time(13), time(18))],
    )
    # Tuesday 10:00 Berlin (09:00 UTC) + 4 business hours = 15:00 Berlin.
    start = datetime(2026, 12, 1, 9, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        handoff = lead_qualify_if_ready(lead_id=mql_ready_lead().pk, now=start)
    assert handoff.rep == rep
    assert handoff.due_at == datetime(2026, 12, 1, 14, tzinfo=UTC)


BANT_CONFIRMED = {
    "budget_status": "confirmed",
    "authority_status": "confirmed",
    "need_status": "confirmed",
    "timeline_status": "confirmed",
    "ready_for_demo": True,
}


def test_qualify_to_sql_needs_acceptance_and_bant(rep):
    handoff = assign(mql_ready_lead())
    lead_bant_update(handoff_id=handoff.pk, actor=rep.user, bant={"budget_status": "confirmed"})
    with pytest.raises(TransitionRefused) as caught:
        handoff_qualify(handoff_id=handoff.pk, actor=rep.user)
    assert str(caught.value) == (
        "This lead cannot become SQL yet. Missing: accepted by sales, authority, need, "
        "timeline, ready for a demo or proposal."
    )
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.ASSIGNED
    assert Lead.objects.get().stage == Stage.MQL


def test_qualify_to_sql_when_everything_is_confirmed(rep):
    handoff = assign(mql_ready_lead())
    handoff_accept(handoff_id=handoff.pk, actor=rep.user)
    lead_bant_update(handoff_id=handoff.pk, actor=rep.user, bant=BANT_CONFIRMED)
    handoff_qualify(handoff_id=handoff.pk, actor=rep.user)
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.QUALIFIED
    lead = Lead.objects.get()
    assert lead.stage == Stage.SQL
    assert list(lead.events.values_list("to_stage", "reason")) == [
        ("mql", "score 75 reached the threshold 50"),
        ("sql", "BANT confirmed"),
    ]


def test_unknown_bant_field_is_refused(rep):
    handoff = assign(mql_ready_lead())
    with pytest.raises(HandoffError, match="Unknown BANT fields: stage"):
        lead_bant_update(handoff_id=handoff.pk, actor=rep.user, bant={"stage": "customer"})


def test_rejection_note_over_the_limit_is_refused(rep):
    handoff = assign(mql_ready_lead())
    with pytest.raises(HandoffError, match="Keep the note under 2000 characters."):
        handoff_reject(
            handoff_id=handoff.pk, actor=rep.user, reason_code="not-now", note="x" * 2001
        )
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.ASSIGNED
    assert not Rejection.objects.exists()
