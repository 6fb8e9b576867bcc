"""The handoff packet's forms (BANT, pain and context, qualification, the hand-over to an
account executive, reassignment) and the manager's team page."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from handoff import roles
from handoff.models import (
    Handoff,
    HandoffEvent,
    HandoffPoint,
    HandoffState,
    Notification,
    RequiredField,
)
from handoff.services import (
    handoff_accept,
    handoff_assign,
    handoff_log_attempt,
    handoff_reassign,
)
from handoff.tests.factories import HandoffFactory
from leads.models import Lead, LeadEvent, Stage
from leads.tests.factories import LeadFactory
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
BANT_CONFIRMED = {
    "budget_status": "confirmed",
    "budget_note": "20k approved for Q3",
    "authority_status": "confirmed",
    "authority_note": "VP Sales signs",
    "need_status": "confirmed",
    "need_note": "Quotes take a week",
    "timeline_status": "confirmed",
    "timeline_note": "Live by January",
    "ready_for_demo": "on",
}


def routed(*, username: str = "ana", **lead_fields) -> Handoff:  # noqa: ANN003
    """An MQL routed by the assignment service to the only rep there is."""
    rep = RepFactory(user__username=username)
    lead = LeadFactory(stage=Stage.MQL, mql_count=1, first_name="Grace", **lead_fields)
    with transaction.atomic():
        handoff = handoff_assign(lead=lead, actor=None)
    assert handoff.rep_id == rep.pk
    return handoff


def lead_row(lead_id: int) -> dict:
    return Lead.objects.filter(pk=lead_id).values().get()


def state(handoff_id: int) -> str:
    return Handoff.objects.values_list("state", flat=True).get(pk=handoff_id)


@pytest.fixture
def handoff(client) -> Handoff:
    handoff = routed()
    client.force_login(handoff.rep.user)
    return handoff


def test_bant_panel_loads_into_the_queue_row(client, handoff):
    response = client.get(reverse("handoff-bant", args=[handoff.pk]), **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert f'<div class="bant-panel" id="bant-panel-{handoff.pk}">' in content
    assert f'hx-post="/handoffs/{handoff.pk}/qualify/"' in content
    assert 'id="bant_budget_status"' in content


def test_bant_without_javascript_is_the_packets_form(client, handoff):
    response = client.get(reverse("handoff-bant", args=[handoff.pk]))

    assert response.status_code == 302
    assert response.url == f"/handoffs/{handoff.pk}/#bant"


def test_bant_is_saved_through_the_service(client, handoff):
    response = client.post(reverse("handoff-bant", args=[handoff.pk]), BANT_CONFIRMED)

    assert response.status_code == 302
    assert response.url == f"/handoffs/{handoff.pk}/#bant"
    row = lead_row(handoff.lead_id)
    assert {name: row[name] for name in BANT_CONFIRMED} == {
        **BANT_CONFIRMED,
        "ready_for_demo": True,
    }
    assert row["stage"] == Stage.MQL


def test_htmx_bant_answers_with_the_panel_and_its_checklist(client, handoff):
    response = client.post(
        reverse("handoff-bant", args=[handoff.pk]),
        {**BANT_CONFIRMED, "authority_status": "not_met"},
        **HTMX,
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert "BANT saved." in content
    assert '<li class="check-done"><span aria-hidden="true">✓</span> Budget' in content
    assert '<li class="check-missing"><span aria-hidden="true">✗</span> Authority' in content
    assert '<li class="check-missing"><span aria-hidden="true">✗</span> Accepted by sales' in (
        content
    )


def test_bant_with_an_unknown_status_answers_400_and_changes_nothing(client, handoff):
    before = lead_row(handoff.lead_id)

    response = client.post(
        reverse("handoff-bant", args=[handoff.pk]), {**BANT_CONFIRMED, "need_status": "maybe"}
    )

    assert response.status_code == 400
    assert "Select a valid choice. maybe is not one of the available choices." in (
        response.content.decode()
    )
    assert lead_row(handoff.lead_id) == before


def test_pain_and_context_are_saved_through_the_service(client, handoff):
    response = client.post(
        reverse("handoff-context", args=[handoff.pk]),
        {"pain": "Quotes take a week.", "context": "Uses spreadsheets today."},
    )

    assert response.status_code == 302
    assert response.url == f"/handoffs/{handoff.pk}/#pain"
    row = lead_row(handoff.lead_id)
    assert (row["pain"], row["context"]) == ("Quotes take a week.", "Uses spreadsheets today.")


def test_qualify_without_bant_is_refused_with_what_is_missing(client, handoff):
    before = (lead_row(handoff.lead_id), state(handoff.pk), HandoffEvent.objects.count())

    response = client.post(reverse("handoff-qualify", args=[handoff.pk]))

    assert response.status_code == 400
    assert (
        "This lead cannot become SQL yet. Missing: accepted by sales, budget, authority, need, "
        "timeline, ready for a demo or proposal."
    ) in response.content.decode()
    assert (lead_row(handoff.lead_id), state(handoff.pk), HandoffEvent.objects.count()) == before
    assert LeadEvent.objects.count() == 0


def test_htmx_qualify_refusal_shows_the_list_in_the_panel(client, handoff):
    handoff_accept(handoff_id=handoff.pk, actor=handoff.rep.user)

    response = client.post(reverse("handoff-qualify", args=[handoff.pk]), **HTMX)

    content = response.content.decode()
    assert response.status_code == 400
    assert '<div class="bant-panel"' in content
    assert "Missing: budget, authority, need, timeline, ready for a demo or proposal." in content
    assert state(handoff.pk) == HandoffState.ACCEPTED


def test_htmx_qualify_refusal_gives_back_the_bant_typed_but_not_saved(client, handoff):
    handoff_accept(handoff_id=handoff.pk, actor=handoff.rep.user)
    before = lead_row(handoff.lead_id)

    response = client.post(
        reverse("handoff-qualify", args=[handoff.pk]),
        {**BANT_CONFIRMED, "budget_note": "Signed off by the CFO."},
        **HTMX,
    )

    content = response.content.decode()
    form = response.context["bant_form"]
    assert response.status_code == 400
    assert (form["budget_status"].value(), form["budget_note"].value()) == (
        "confirmed",
        "Signed off by the CFO.",
    )
    assert "Signed off by the CFO." in content
    assert "<strong>Not saved yet:</strong>" in content
    assert "Missing: budget, authority, need, timeline" in content
    assert lead_row(handoff.lead_id) == before
    assert state(handoff.pk) == HandoffState.ACCEPTED


def test_qualify_makes_the_lead_sql_and_opens_the_hand_over(client, handoff):
    handoff_accept(handoff_id=handoff.pk, actor=handoff.rep.user)
    client.post(reverse("handoff-bant", args=[handoff.pk]), BANT_CONFIRMED)

    response = client.post(reverse("handoff-qualify", args=[handoff.pk]))

    assert response.status_code == 302
    assert response.url == f"/handoffs/{handoff.pk}/#hand-over"
    assert state(handoff.pk) == HandoffState.QUALIFIED
    assert lead_row(handoff.lead_id)["stage"] == Stage.SQL
    page = client.get(response.url)
    assert page.context["can_hand_over"] is True
    assert "Hand over as an opportunity" in page.content.decode()


def test_htmx_qualify_removes_the_row_from_the_queue(client, handoff):
    handoff_accept(handoff_id=handoff.pk, actor=handoff.rep.user)
    client.post(reverse("handoff-bant", args=[handoff.pk]), BANT_CONFIRMED)

    response = client.post(reverse("handoff-qualify", args=[handoff.pk]), **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert f'<tbody id="handoff-{handoff.pk}" hx-swap-oob="delete"></tbody>' in content
    assert "Grace" in content
    assert "is now an SQL" in content


@pytest.fixture
def sql_handoff(client) -> Handoff:
    handoff = routed(phone="+44 20 7946 0000", pain="")
    user = handoff.rep.user
    handoff_accept(handoff_id=handoff.pk, actor=user)
    client.force_login(user)
    client.post(reverse("handoff-bant", args=[handoff.pk]), BANT_CONFIRMED)
    client.post(reverse("handoff-qualify", args=[handoff.pk]))
    RequiredField.objects.create(point=HandoffPoint.TO_ACCOUNT_EXECUTIVE, field="pain", position=1)
    RequiredField.objects.create(
        point=HandoffPoint.TO_ACCOUNT_EXECUTIVE, field="phone", label="Direct line", position=2
    )
    return handoff


def test_packet_shows_the_required_fields_done_and_missing(client, sql_handoff):
    response = client.get(reverse("handoff-detail", args=[sql_handoff.pk]))

    assert response.context["ae_checklist"] == [
        {"label": "Pain", "field": "pain", "done": False},
        {"label": "Direct line", "field": "phone", "done": True},
    ]
    content = response.content.decode()
    assert '<li class="check-missing"><span aria-hidden="true">✗</span> Pain' in content
    assert '<li class="check-done"><span aria-hidden="true">✓</span> Direct line' in content


def test_hand_over_lists_only_active_account_executives(client, sql_handoff):
    kept = UserFactory(username="ae", first_name="Alex", roles=[roles.ACCOUNT_EXECUTIVE])
    UserFactory(username="gone", is_active=False, roles=[roles.ACCOUNT_EXECUTIVE])
    UserFactory(username="bdr", roles=[roles.BDR])

    response = client.get(reverse("handoff-detail", args=[sql_handoff.pk]))

    field = response.context["opportunity_form"].fields["account_executive"]
    assert list(field.queryset) == [kept]


def test_hand_over_is_refused_while_a_required_field_is_missing(client, sql_handoff):
    executive = UserFactory(username="ae", roles=[roles.ACCOUNT_EXECUTIVE])
    before = lead_row(sql_handoff.lead_id)

    response = client.post(
        reverse("handoff-opportunity", args=[sql_handoff.pk]),
        {"account_executive": executive.pk},
    )

    assert response.status_code == 400
    assert "This lead cannot go to an account executive yet. Missing: Pain." in (
        response.content.decode()
    )
    assert lead_row(sql_handoff.lead_id) == before
    assert Notification.objects.filter(recipient=executive).count() == 0


def test_a_missing_required_field_can_be_filled_in_after_qualifying(client, sql_handoff):
    executive = UserFactory(username="ae", roles=[roles.ACCOUNT_EXECUTIVE])
    packet = client.get(reverse("handoff-detail", args=[sql_handoff.pk]))
    assert packet.context["can_document"] is True

    saved = client.post(
        reverse("handoff-context", args=[sql_handoff.pk]),
        {"pain": "Quotes take a week.", "context": ""},
    )
    handed = client.post(
        reverse("handoff-opportunity", args=[sql_handoff.pk]),
        {"account_executive": executive.pk},
    )

    assert saved.status_code == 302
    assert handed.status_code == 302
    lead = Lead.objects.get(pk=sql_handoff.lead_id)
    assert (lead.pain, lead.stage) == ("Quotes take a week.", Stage.OPPORTUNITY)


def test_the_rep_of_a_reassigned_handoff_can_no_longer_document_the_lead(client):
    handoff = routed(pain="")
    client.force_login(handoff.rep.user)
    handoff_reassign(
        handoff_id=handoff.pk, actor=None, reason="Rep is ill.", to_rep_id=RepFactory().pk
    )
    before = lead_row(handoff.lead_id)

    response = client.post(
        reverse("handoff-context", args=[handoff.pk]), {"pain": "Guessing.", "context": ""}
    )

    assert response.status_code == 409
    assert lead_row(handoff.lead_id) == before


def test_hand_over_makes_an_opportunity_and_tells_the_executive(client, sql_handoff):
    executive = UserFactory(username="ae", first_name="Alex", roles=[roles.ACCOUNT_EXECUTIVE])
    client.post(
        reverse("handoff-context", args=[sql_handoff.pk]),
        {"pain": "Quotes take a week.", "context": ""},
    )

    response = client.post(
        reverse("handoff-opportunity", args=[sql_handoff.pk]),
        {"account_executive": executive.pk},
    )

    assert response.status_code == 302
    assert response.url == f"/handoffs/{sql_handoff.pk}/"
    row = lead_row(sql_handoff.lead_id)
    assert (row["stage"], row["account_executive_id"]) == (Stage.OPPORTUNITY, executive.pk)
    assert list(Notification.objects.filter(recipient=executive).values_list("url", flat=True)) == [
        f"/handoffs/{sql_handoff.pk}/"
    ]
    client.force_login(executive)
    assert client.get(response.url).status_code == 200


@pytest.fixture
def team(client) -> dict:
    """A handoff of Ana's, her manager signed in, and a second rep on the same team."""
    handoff = routed()
    ben = RepFactory(user__username="ben", team=handoff.rep.team)
    outsider = RepFactory(user__username="olga")
    client.force_login(handoff.rep.team.manager)
    return {"handoff": handoff, "ben": ben, "outsider": outsider}


def test_manager_reassigns_to_a_chosen_rep_with_a_reason(client, team):
    handoff = team["handoff"]

    response = client.post(
        reverse("handoff-reassign", args=[handoff.pk]),
        {"reason": "Ana is on leave.", "to_rep": team["ben"].pk, "next": "/team/?sla=ok"},
    )

    assert response.status_code == 302
    assert response.url == "/team/?sla=ok"
    assert state(handoff.pk) == HandoffState.REASSIGNED
    new = Handoff.objects.get(previous=handoff)
    assert (new.rep_id, new.state) == (team["ben"].pk, HandoffState.ASSIGNED)
    assert HandoffEvent.objects.filter(handoff=handoff, kind="reassigned").get().note == (
        "Ana is on leave."
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "  "}, "Say why the lead is being reassigned."),
        ({"reason": "Leave.", "to_rep": "OUTSIDER"}, "Select a valid choice."),
        ({"reason": "Leave.", "to_rep": "SAME"}, "Select a valid choice."),
    ],
)
def test_reassign_without_a_reason_or_to_a_rep_outside_the_team_is_refused(
    client, team, data, message
):
    handoff = team["handoff"]
    ids = {"OUTSIDER": team["outsider"].pk, "SAME": handoff.rep_id}
    data = {key: ids.get(value, value) for key, value in data.items()}

    response = client.post(reverse("handoff-reassign", args=[handoff.pk]), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert list(Handoff.objects.values_list("pk", "state")) == [(handoff.pk, "assigned")]


def test_packet_history_says_who_did_what_when_and_why(client, team):
    handoff = team["handoff"]
    manager = handoff.rep.team.manager
    client.post(
        reverse("handoff-reassign", args=[handoff.pk]),
        {"reason": "Ana is on leave.", "to_rep": team["ben"].pk},
    )
    new = Handoff.objects.get(previous=handoff)

    response = client.get(reverse("handoff-detail", args=[new.pk]))

    history = [
        (entry["what"], getattr(entry["actor"], "pk", None), entry["why"], entry["handoff_id"])
        for entry in response.context["history"]
    ]
    assert history == [
        ("Assigned", None, "first response due within 4 business hours", handoff.pk),
        ("Reassigned", manager.pk, "Ana is on leave.", handoff.pk),
        ("Assigned", manager.pk, "first response due within 4 business hours", new.pk),
    ]
    assert "another handoff" in response.content.decode()


# A Tuesday, inside the factories' working day.
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
WEEK = timedelta(days=8)


@time_machine.travel(NOW, tick=False)
def test_team_page_shows_each_reps_load_and_sla_record(client):
    ana = RepFactory(user__username="ana", weekly_capacity=10)
    ben = RepFactory(user__username="ben", team=ana.team, weekly_capacity=4)
    RepFactory(user__username="olga")
    # Ana: three this week (one answered at its deadline, one late, one still open and on
    # time), and one from last week, which is not this week's load but is in her record.
    earlier, due, last_week = NOW - timedelta(hours=5), NOW - timedelta(hours=1), NOW - WEEK
    accepted = HandoffState.ACCEPTED
    HandoffFactory(rep=ana, assigned_at=earlier, due_at=due, first_response_at=due, state=accepted)
    HandoffFactory(rep=ana, assigned_at=earlier, due_at=due, first_response_at=NOW, state=accepted)
    HandoffFactory(rep=ana, assigned_at=NOW - timedelta(minutes=5))
    HandoffFactory(
        rep=ana,
        assigned_at=last_week,
        due_at=last_week,
        first_response_at=last_week,
        state=HandoffState.REJECTED,
    )
    HandoffFactory(rep=ben, assigned_at=NOW - timedelta(hours=1))
    client.force_login(ana.team.manager)

    response = client.get(reverse("manager-dashboard"))

    load = [
        (
            row["rep"].user.username,
            row["assigned"],
            row["rep"].weekly_capacity,
            row["open"],
            (row["compliance"].met, row["compliance"].breached) if row["compliance"] else None,
        )
        for row in response.context["load"]
    ]
    assert load == [("ana", 3, 10, 3, (2, 1)), ("ben", 1, 4, 1, None)]
    content = response.content.decode()
    assert '<span data-assigned="3">3 of 10</span>' in content
    assert '<span data-compliance="2/3">' in content


def test_team_page_uses_the_same_number_of_queries_for_1_and_20_handoffs(client):
    ana = RepFactory(user__username="ana")
    HandoffFactory(rep=ana)
    client.force_login(ana.team.manager)
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("manager-dashboard"))

    HandoffFactory.create_batch(19, rep=ana)
    with CaptureQueriesContext(connection) as twenty:
        client.get(reverse("manager-dashboard"))

    assert len(one.captured_queries) == len(twenty.captured_queries)


def test_attempts_in_the_packet_name_who_logged_them(client, handoff):
    handoff_log_attempt(
        handoff_id=handoff.pk, actor=handoff.rep.user, channel="call", outcome="connected"
    )

    response = client.get(reverse("handoff-detail", args=[handoff.pk]))

    assert "Call: Connected" in response.content.decode()
    assert [a.logged_by_id for a in response.context["attempts"]] == [handoff.rep.user_id]
