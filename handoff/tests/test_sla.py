"""The SLA engine: the schedule, the chain's steps in order and once each, working-hours
reminders, reassignment with a fresh clock, the return to marketing, and the cadence."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from handoff.models import (
    Escalation,
    EscalationLevel,
    Handoff,
    HandoffState,
    Notification,
    SlaPolicy,
)
from handoff.services import handoff_log_attempt, handoff_sla_check, handoffs_sla_sweep
from handoff.sla import counted_attempts
from leads.models import ActivityKind, Lead, Stage
from leads.services import lead_qualify_if_ready, leads_rescore
from leads.tests.factories import ActivityFactory, LeadFactory
from reps.tests.factories import RepFactory, TeamFactory

pytestmark = pytest.mark.django_db

# Tuesday 1 December 2026 at 10:00 UTC; reps work 09:00-17:00 UTC on weekdays.
NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)
DUE = datetime(2026, 12, 1, 14, tzinfo=UTC)


def hand_off() -> Handoff:
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    leads_rescore(lead_ids=[lead.pk], now=NOW)
    handoff = lead_qualify_if_ready(lead_id=lead.pk, now=NOW)
    assert handoff.due_at == DUE
    return handoff


def levels(handoff: Handoff) -> list[int]:
    return list(handoff.escalations.order_by("level").values_list("level", flat=True))


@pytest.fixture
def team():
    return TeamFactory(manager__username="boss")


def test_steps_fall_due_in_order_and_each_happens_once(team):
    RepFactory(user__username="ann", team=team)
    handoff = hand_off()

    assert (
        handoff_sla_check(handoff_id=handoff.pk, now=datetime(2026, 12, 1, 12, 59, tzinfo=UTC))
        == []
    )
    assert [
        e.level
        for e in handoff_sla_check(handoff_id=handoff.pk, now=datetime(2026, 12, 1, 13, tzinfo=UTC))
    ] == [EscalationLevel.WARNING]
    assert (
        handoff_sla_check(handoff_id=handoff.pk, now=datetime(2026, 12, 1, 13, 30, tzinfo=UTC))
        == []
    )
    taken = handoff_sla_check(handoff_id=handoff.pk, now=DUE)
    assert [e.level for e in taken] == [EscalationLevel.REMIND_REP, EscalationLevel.MANAGER_ALERT]
    assert handoff_sla_check(handoff_id=handoff.pk, now=DUE) == []
    handoff.refresh_from_db()
    # Reassignment is four business hours after the deadline: 14-17 today, 9-10 tomorrow.
    assert handoff.next_check_at == datetime(2026, 12, 2, 10, tzinfo=UTC)


def test_reminder_to_the_rep_waits_for_working_hours_but_the_manager_alert_does_not(team):
    RepFactory(user__username="ann", team=team)
    handoff = hand_off()
    evening = datetime(2026, 12, 1, 20, tzinfo=UTC)

    taken = handoff_sla_check(handoff_id=handoff.pk, now=evening)

    # The warning is past its deadline, so it is done at once, silently; see below.
    assert [e.level for e in taken] == [EscalationLevel.WARNING, EscalationLevel.MANAGER_ALERT]
    handoff.refresh_from_db()
    assert handoff.next_check_at == datetime(2026, 12, 2, 9, tzinfo=UTC)
    morning = handoff_sla_check(handoff_id=handoff.pk, now=datetime(2026, 12, 2, 9, tzinfo=UTC))
    assert [e.level for e in morning] == [EscalationLevel.REMIND_REP]


def test_reassignment_gives_the_next_rep_a_fresh_clock_and_keeps_the_breach_on_the_first(team):
    ann = RepFactory(user__username="ann", team=team)
    bob = RepFactory(user__username="bob", team=team)
    handoff = hand_off()
    assert handoff.rep == ann
    reassign_at = datetime(2026, 12, 2, 10, tzinfo=UTC)

    handoffs_sla_sweep(now=reassign_at)

    handoff.refresh_from_db()
    assert handoff.state == HandoffState.REASSIGNED
    new = handoff.next
    assert (new.rep, new.assigned_at, new.due_at) == (
        bob,
        reassign_at,
        datetime(2026, 12, 2, 14, tzinfo=UTC),
    )
    assert set(Escalation.objects.values_list("rep__user__username", flat=True)) == {"ann"}
    assert Notification.objects.filter(recipient=bob.user, kind="handoff_assigned").count() == 1

    # Bob misses too: his chain does not reassign again, it returns the lead to marketing,
    # eight business hours after his deadline (14-17, then 9-14 next day).
    handoffs_sla_sweep(now=datetime(2026, 12, 3, 13, 59, tzinfo=UTC))
    new.refresh_from_db()
    assert new.state == HandoffState.ASSIGNED
    handoffs_sla_sweep(now=datetime(2026, 12, 3, 14, tzinfo=UTC))
    new.refresh_from_db()
    assert new.state == HandoffState.RETURNED
    assert levels(new) == [
        EscalationLevel.WARNING,
        EscalationLevel.REMIND_REP,
        EscalationLevel.MANAGER_ALERT,
        EscalationLevel.RETURN_TO_MARKETING,
    ]
    lead = Lead.objects.get(pk=new.lead_id)
    assert lead.stage == Stage.RECYCLED
    assert new.rejection.reason.code == "no-response"
    assert new.first_response_at is None


def test_answered_handoff_moves_to_the_cadence_and_a_met_cadence_escalates_nothing(team):
    ann = RepFactory(user__username="ann", team=team)
    handoff = hand_off()
    for hours in (1, 30, 50):
        handoff_log_attempt(
            handoff_id=handoff.pk, actor=ann.user, channel="call", outcome="no_answer",
            at=NOW + timedelta(hours=hours),
        )  # fmt: skip
    handoff.refresh_from_db()
    cadence_end = datetime(2026, 12, 7, 17, tzinfo=UTC)
    assert handoff.next_check_at == cadence_end

    assert handoff_sla_check(handoff_id=handoff.pk, now=cadence_end) == []
    handoff.refresh_from_db()
    assert handoff.next_check_at is None
    assert not Escalation.objects.exists()


def test_missed_cadence_alerts_the_manager_once(team):
    ann = RepFactory(user__username="ann", team=team)
    handoff = hand_off()
    # Two attempts an hour apart count as one under the four-hour spacing.
    for minutes in (60, 120):
        handoff_log_attempt(
            handoff_id=handoff.pk, actor=ann.user, channel="email", outcome="left_message",
            at=NOW + timedelta(minutes=minutes),
        )  # fmt: skip
    cadence_end = datetime(2026, 12, 7, 17, tzinfo=UTC)

    taken = handoff_sla_check(handoff_id=handoff.pk, now=cadence_end)

    assert [e.level for e in taken] == [EscalationLevel.CADENCE_MISSED]
    assert Notification.objects.filter(recipient=team.manager, kind="cadence_missed").count() == 1
    assert handoff_sla_check(handoff_id=handoff.pk, now=cadence_end + timedelta(days=1)) == []


def test_counted_attempts_respects_minimum_spacing():
    base = NOW
    times = [base, base + timedelta(hours=1), base + timedelta(hours=4), base + timedelta(hours=9)]
    assert counted_attempts(times, min_spacing=timedelta(hours=4)) == 3
    assert counted_attempts(times, min_spacing=timedelta(0)) == 4
    assert counted_attempts([], min_spacing=timedelta(hours=4)) == 0


def test_policy_above_the_ceiling_is_refused_naming_it():
    policy = SlaPolicy(name="Slow", first_response_hours=25)
    with pytest.raises(ValidationError) as caught:
        policy.full_clean()
    assert caught.value.message_dict["first_response_hours"] == [
        "The first-response target cannot exceed the protocol's ceiling of 24 business hours."
    ]


def test_policy_chain_must_run_in_order():
    policy = SlaPolicy(name="Odd", reassign_after_hours=2, alert_manager_after_hours=6)
    with pytest.raises(ValidationError) as caught:
        policy.full_clean()
    assert caught.value.message_dict["reassign_after_hours"] == [
        "Policy 'Odd': this level (2 h) cannot come before the one above it (6 h)."
    ]


def test_sweep_after_downtime_catches_up_once(team):
    RepFactory(user__username="ann", team=team)
    handoffs = [hand_off() for _ in range(3)]
    later = datetime(2026, 12, 1, 16, tzinfo=UTC)
    assert handoffs_sla_sweep(now=later) == 3
    assert handoffs_sla_sweep(now=later) == 0
    for handoff in handoffs:
        assert levels(handoff) == [
            EscalationLevel.WARNING,
            EscalationLevel.REMIND_REP,
            EscalationLevel.MANAGER_ALERT,
        ]
