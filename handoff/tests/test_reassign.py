from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from handoff.errors import HandoffError, PermissionRefused
from handoff.models import Handoff, HandoffEvent, HandoffState, Notification
from handoff.services import (
    REASSIGN_NOBODY,
    REASSIGN_REASON_REQUIRED,
    handoff_reassign,
    leads_assign_waiting,
)
from leads.models import ActivityKind, Lead, Stage
from leads.services import lead_qualify_if_ready, leads_rescore
from leads.tests.factories import ActivityFactory, LeadFactory
from reps.models import Rep
from reps.tests.factories import RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, tzinfo=UTC)  # Tuesday, inside 09:00-17:00 UTC


def qualified_lead() -> Lead:
    lead = LeadFactory()
    ActivityFactory(lead=lead, kind=ActivityKind.DEMO_REQUEST, occurred_at=NOW)
    leads_rescore(lead_ids=[lead.pk], now=NOW)
    return lead


@pytest.fixture
def team():
    return TeamFactory(manager__username="boss")


def test_manager_reassigns_with_a_reason_and_the_new_rep_gets_a_fresh_clock(team):
    ann = RepFactory(user__username="ann", team=team)
    bob = RepFactory(user__username="bob", team=team)
    handoff = lead_qualify_if_ready(lead_id=qualified_lead().pk, now=NOW)
    assert handoff.rep == ann
    later = NOW + timedelta(hours=3)

    with time_machine.travel(later, tick=False):
        new = handoff_reassign(
            handoff_id=handoff.pk, actor=team.manager, reason="Ann is at a conference"
        )

    handoff.refresh_from_db()
    assert (handoff.state, handoff.ended_at) == (HandoffState.REASSIGNED, later)
    assert (new.rep, new.previous, new.assigned_at) == (bob, handoff, later)
    assert new.due_at == later + timedelta(hours=4)
    event = HandoffEvent.objects.get(handoff=handoff, kind="reassigned")
    assert (event.actor, event.note) == (team.manager, "Ann is at a conference")
    assert Notification.objects.filter(recipient=bob.user, kind="handoff_assigned").count() == 1
    assert Handoff.objects.open().count() == 1


def test_reassign_to_a_named_rep(team):
    RepFactory(user__username="ann", team=team)
    RepFactory(user__username="bob", team=team)
    cid = RepFactory(user__username="cid", team=team)
    handoff = lead_qualify_if_ready(lead_id=qualified_lead().pk, now=NOW)
    new = handoff_reassign(
        handoff_id=handoff.pk, actor=team.manager, reason="Speaks German", to_rep_id=cid.pk
    )
    assert new.rep == cid


def test_reassign_needs_a_reason_and_changes_nothing_without_one(team):
    RepFactory(team=team)
    RepFactory(team=team)
    handoff = lead_qualify_if_ready(lead_id=qualified_lead().pk, now=NOW)
    with pytest.raises(HandoffError, match=REASSIGN_REASON_REQUIRED):
        handoff_reassign(handoff_id=handoff.pk, actor=team.manager, reason="  ")
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.ASSIGNED
    assert Handoff.objects.count() == 1


def test_the_rep_cannot_reassign_their_own_lead(team):
    ann = RepFactory(team=team)
    RepFactory(team=team)
    handoff = lead_qualify_if_ready(lead_id=qualified_lead().pk, now=NOW)
    with pytest.raises(PermissionRefused):
        handoff_reassign(handoff_id=handoff.pk, actor=ann.user, reason="Too busy")
    assert Handoff.objects.count() == 1


def test_reassign_with_nobody_else_eligible_is_refused(team):
    RepFactory(team=team)
    handoff = lead_qualify_if_ready(lead_id=qualified_lead().pk, now=NOW)
    with pytest.raises(HandoffError, match=REASSIGN_NOBODY):
        handoff_reassign(handoff_id=handoff.pk, actor=team.manager, reason="Rebalance")
    handoff.refresh_from_db()
    assert handoff.state == HandoffState.ASSIGNED


def test_waiting_leads_give_one_alert_and_are_placed_when_a_rep_frees_up(team):
    manager = UserFactory(username="head", roles=["Manager"])
    rep = RepFactory(team=team, active=False)
    waiting = [qualified_lead() for _ in range(3)]
    for lead in waiting:
        assert lead_qualify_if_ready(lead_id=lead.pk, now=NOW) is None
    assert Lead.objects.filter(stage=Stage.MQL).count() == 3
    assert Notification.objects.filter(recipient=manager, kind="routing_exhausted").count() == 1

    Rep.objects.filter(pk=rep.pk).update(active=True)
    assert leads_assign_waiting(now=NOW) == 3
    assert Handoff.objects.open().filter(rep=rep).count() == 3
    assert leads_assign_waiting(now=NOW) == 0


def test_one_alert_when_leads_start_waiting_out_of_id_order(team):
    manager = UserFactory(username="head", roles=["Manager"])
    RepFactory(team=team, active=False)
    first, second, third = (qualified_lead() for _ in range(3))
    for lead in (third, first, second):
        assert lead_qualify_if_ready(lead_id=lead.pk, now=NOW) is None
    assert Notification.objects.filter(recipient=manager, kind="routing_exhausted").count() == 1
