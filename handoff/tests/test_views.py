from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from feedback.models import Rejection
from handoff import roles
from handoff.models import ContactAttempt, Handoff, HandoffEvent, HandoffState
from handoff.selectors import QueueCursor
from handoff.services import handoff_assign, handoff_reassign
from handoff.tests.factories import HandoffFactory
from leads.models import Activity, ActivityKind, Lead, LeadEvent, Stage
from leads.tests.factories import LeadFactory, SourceFactory
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

# A Tuesday, inside the factories' 09:00-17:00 working day.
NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def assigned_handoff(*, rep_user_name: str = "ana") -> Handoff:
    """A handoff made the way production makes it: an MQL routed by the assignment service.

    The rep is the only one in the database at that moment, so routing has to pick them.
    """
    rep = RepFactory(user__username=rep_user_name)
    lead = LeadFactory(stage=Stage.MQL, mql_count=1, first_name="Grace", last_name="Hopper")
    with transaction.atomic():
        handoff = handoff_assign(lead=lead, actor=None)
    assert handoff.rep_id == rep.pk
    return handoff


def handoff_row(handoff_id: int) -> dict:
    return Handoff.objects.filter(pk=handoff_id).values().get()


@time_machine.travel(NOW, tick=False)
def test_queue_lists_only_the_reps_own_open_handoffs_by_deadline(client):
    rep = RepFactory(user__username="ana")
    later = HandoffFactory(rep=rep, due_at=NOW + timedelta(hours=3), lead__first_name="Later")
    breached = HandoffFactory(rep=rep, due_at=NOW - timedelta(hours=1), lead__first_name="Late")
    soon = HandoffFactory(rep=rep, due_at=NOW + timedelta(minutes=30), lead__first_name="Soon")
    HandoffFactory(rep=rep, state=HandoffState.REJECTED, lead__first_name="Closed")
    HandoffFactory(due_at=NOW - timedelta(hours=2), lead__first_name="Someone")
    client.force_login(rep.user)

    response = client.get(reverse("queue"))

    assert response.status_code == 200
    assert [handoff.pk for handoff in response.context["handoffs"]] == [
        breached.pk,
        soon.pk,
        later.pk,
    ]
    assert response.context["counts"] == {"breached": 1, "due_soon": 1, "new": 3, "total": 3}
    content = response.content.decode()
    assert "Someone" not in content
    assert "Closed" not in content
    assert "overdue by 1h 00m" in content
    assert "30m left" in content
    assert "3h 00m left" in content
    assert content.index("Late") < content.index("Soon") < content.index("Later")


@time_machine.travel(NOW, tick=False)
def test_queue_shows_times_in_the_reps_timezone(client):
    rep = RepFactory(timezone="Europe/Paris")
    HandoffFactory(rep=rep, assigned_at=NOW, due_at=datetime(2025, 3, 4, 14, 0, tzinfo=UTC))
    client.force_login(rep.user)

    content = client.get(reverse("queue")).content.decode()

    # Paris is UTC+1 in March before the clocks change.
    assert "Tue 4 Mar 15:00" in content
    assert "Tue 4 Mar 14:00" not in content
    assert "Times are shown in Europe/Paris" in content


@time_machine.travel(NOW, tick=False)
def test_manager_dashboard_shows_times_in_utc(client):
    rep = RepFactory(timezone="Europe/Paris")
    HandoffFactory(rep=rep, assigned_at=NOW, due_at=datetime(2025, 3, 4, 14, 0, tzinfo=UTC))
    client.force_login(rep.team.manager)

    content = client.get(reverse("manager-dashboard")).content.decode()

    assert "Tue 4 Mar 14:00" in content
    assert "Times are shown in UTC" in content


def test_queue_shows_an_empty_state(client):
    rep = RepFactory()
    client.force_login(rep.user)

    response = client.get(reverse("queue"))

    assert response.context["counts"] == {"breached": 0, "due_soon": 0, "new": 0, "total": 0}
    assert "Nothing is waiting for you" in response.content.decode()


def _queue_queries(client, user) -> list[str]:  # noqa: ANN001
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("queue"))
    assert response.status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def test_queue_uses_the_same_number_of_queries_for_1_and_20_handoffs(client):
    rep = RepFactory()
    source = SourceFactory()
    HandoffFactory(rep=rep, lead__source=source)
    client.force_login(rep.user)
    one = _queue_queries(client, rep.user)

    HandoffFactory.create_batch(19, rep=rep, lead__source=source)
    twenty = _queue_queries(client, rep.user)

    assert len(twenty) == len(one)
    # Session, user, roles, the page of handoffs, the counters, the unread notification
    # count, the viewer's rep for the timezone, the sources for the filter and the active
    # rejection reasons for the dialog.
    assert len(one) == 9


def test_accept_moves_the_handoff_to_accepted_and_records_who(client):
    handoff = assigned_handoff()
    user = handoff.rep.user
    client.force_login(user)

    response = client.post(reverse("handoff-accept", args=[handoff.pk]))

    assert response.status_code == 302
    assert response.url == reverse("queue")
    row = handoff_row(handoff.pk)
    assert row["state"] == HandoffState.ACCEPTED
    assert row["accepted_at"] is not None
    assert list(
        HandoffEvent.objects.filter(handoff=handoff).values_list(
            "kind", "actor_id", "from_state", "to_state"
        )
    ) == [
        ("assigned", None, "", "assigned"),
        ("accepted", user.pk, "assigned", "accepted"),
    ]


def test_second_accept_answers_409_and_writes_nothing(client):
    handoff = assigned_handoff()
    client.force_login(handoff.rep.user)
    client.post(reverse("handoff-accept", args=[handoff.pk]))
    before = handoff_row(handoff.pk)
    events_before = list(HandoffEvent.objects.values_list("pk", flat=True))

    response = client.post(reverse("handoff-accept", args=[handoff.pk]))

    assert response.status_code == 409
    assert "This lead changed while you were looking at it" in response.content.decode()
    assert handoff_row(handoff.pk) == before
    assert list(HandoffEvent.objects.values_list("pk", flat=True)) == events_before


def test_accept_ignores_a_next_url_on_another_site(client):
    handoff = assigned_handoff()
    client.force_login(handoff.rep.user)

    response = client.post(
        reverse("handoff-accept", args=[handoff.pk]), {"next": "https://evil.example/"}
    )

    assert response.status_code == 302
    assert response.url == reverse("queue")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "", "note": "Works at a school."}, "Choose a rejection reason."),
        ({"reason": "not-qualified", "note": ""}, "Add a note: marketing needs to know why."),
        ({"reason": "not-qualified", "note": "   "}, "Add a note: marketing needs to know why."),
        ({"reason": "no-such-reason", "note": "Wrong."}, "Select a valid choice."),
    ],
)
def test_reject_without_a_reason_or_note_answers_400_and_changes_nothing(client, data, message):
    handoff = assigned_handoff()
    client.force_login(handoff.rep.user)
    before = handoff_row(handoff.pk)

    response = client.post(reverse("handoff-reject", args=[handoff.pk]), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert handoff_row(handoff.pk) == before
    assert Rejection.objects.count() == 0
    assert Lead.objects.get(pk=handoff.lead_id).stage == Stage.MQL
    assert LeadEvent.objects.count() == 0
    assert list(HandoffEvent.objects.values_list("kind", flat=True)) == ["assigned"]


@pytest.mark.parametrize(
    ("reason", "stage"),
    [("not-qualified", Stage.RECYCLED), ("competitor", Stage.DISQUALIFIED)],
)
def test_reject_records_the_reason_and_recycles_or_disqualifies_the_lead(client, reason, stage):
    handoff = assigned_handoff()
    user = handoff.rep.user
    client.force_login(user)

    response = client.post(
        reverse("handoff-reject", args=[handoff.pk]),
        {"reason": reason, "note": "  Runs a two-person shop.  "},
    )

    assert response.status_code == 302
    assert response.url == reverse("queue")
    assert handoff_row(handoff.pk)["state"] == HandoffState.REJECTED
    assert list(Rejection.objects.values_list("handoff_id", "reason__code", "note")) == [
        (handoff.pk, reason, "Runs a two-person shop.")
    ]
    assert Lead.objects.get(pk=handoff.lead_id).stage == stage
    assert list(LeadEvent.objects.values_list("from_stage", "to_stage", "actor_id")) == [
        (Stage.MQL, Stage.REJECTED, user.pk),
        (Stage.REJECTED, stage, user.pk),
    ]


def test_log_attempt_sets_the_first_response(client):
    handoff = assigned_handoff()
    user = handoff.rep.user
    client.force_login(user)
    at = timezone.now().replace(microsecond=0) + timedelta(minutes=5)

    with time_machine.travel(at, tick=False):
        response = client.post(
            reverse("handoff-attempt", args=[handoff.pk]),
            {"channel": "call", "outcome": "left_message", "note": "Voicemail."},
        )

    assert response.status_code == 302
    assert response.url == reverse("queue")
    assert handoff_row(handoff.pk)["first_response_at"] == at
    assert list(
        ContactAttempt.objects.values_list(
            "handoff_id", "channel", "outcome", "note", "attempted_at", "logged_by_id"
        )
    ) == [(handoff.pk, "call", "left_message", "Voicemail.", at, user.pk)]


def test_log_attempt_without_a_channel_answers_400_and_changes_nothing(client):
    handoff = assigned_handoff()
    client.force_login(handoff.rep.user)

    response = client.post(reverse("handoff-attempt", args=[handoff.pk]), {"outcome": "connected"})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert handoff_row(handoff.pk)["first_response_at"] is None
    assert ContactAttempt.objects.count() == 0


@time_machine.travel(NOW, tick=False)
def test_packet_shows_the_score_breakdown_and_history(client):
    rep = RepFactory()
    handoff = HandoffFactory(
        rep=rep,
        lead__pain="Quotes take a week.",
        lead__job_title="Head of Sales",
        lead__score=55,
        lead__fit_score=15,
        lead__engagement_score=40,
        lead__need_status="confirmed",
        lead__score_breakdown=[
            {
                "rule": "Sales leader",
                "category": "fit",
                "points": 15,
                "field": "job_title",
                "value": "Head of Sales",
            },
            {
                "rule": "Pricing visits",
                "category": "behaviour",
                "points": 40,
                "capped": True,
                "activities": [
                    {
                        "kind": "page_visit",
                        "occurred_at": "2025-03-03T09:30:00+00:00",
                        "quantity": 6,
                        "points": 48.0,
                    }
                ],
            },
        ],
    )
    Activity.objects.create(
        lead=handoff.lead,
        kind=ActivityKind.DEMO_REQUEST,
        detail="Asked for a demo",
        occurred_at=NOW - timedelta(hours=2),
    )
    client.force_login(rep.user)

    response = client.get(reverse("handoff-detail", args=[handoff.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert response.context["can_act"] is True
    assert "Sales leader" in content
    assert "<code>job_title</code> = Head of Sales" in content
    assert "Page visit ×6, 3 Mar 2025: 48.0 pts" in content
    assert ">capped</span>" in content
    assert "Quotes take a week." in content
    assert "Demo request: " in content
    assert "4h 00m left" in content


def test_packet_lists_imported_attributes_by_label_without_the_outcome(client):
    rep = RepFactory()
    handoff = HandoffFactory(
        rep=rep,
        lead__attributes={"time_on_site_seconds": 1532, "what_matters": "Career", "converted": 1},
    )
    client.force_login(rep.user)

    response = client.get(reverse("handoff-detail", args=[handoff.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert response.context["lead_details"] == [
        ("Time on site seconds", 1532),
        ("What matters", "Career"),
    ]
    assert '<dt class="col-sm-4 col-xl-3">What matters</dt>' in content
    assert "Converted" not in content


def test_revops_reads_the_packet_without_the_forms(client):
    handoff = assigned_handoff()
    revops = UserFactory(roles=[roles.REVOPS])
    client.force_login(revops)

    response = client.get(reverse("handoff-detail", args=[handoff.pk]))

    assert response.status_code == 200
    assert response.context["can_act"] is False
    assert reverse("handoff-reject", args=[handoff.pk]) not in response.content.decode()


def _queue_page(client, **params):  # noqa: ANN001,ANN003,ANN202
    response = client.get(reverse("queue"), params)
    assert response.status_code == 200
    return response


@time_machine.travel(NOW, tick=False)
def test_queue_pages_by_deadline_then_id_without_repeating_or_skipping(client):
    rep = RepFactory()
    # Three handoffs share each deadline, so the pages must also order by id.
    handoffs = [
        HandoffFactory(rep=rep, due_at=NOW + timedelta(minutes=10 * (number // 3)))
        for number in range(30)
    ]
    expected = sorted(handoffs, key=lambda handoff: (handoff.due_at, handoff.pk))
    client.force_login(rep.user)

    first = _queue_page(client)
    first_ids = [handoff.pk for handoff in first.context["handoffs"]]
    cursor = first.context["page"].next_cursor
    # Between the pages one handoff on the first page leaves the queue, and a new one arrives
    # with the earliest deadline of all.
    Handoff.objects.filter(pk=first_ids[0]).update(state=HandoffState.REJECTED)
    HandoffFactory(rep=rep, due_at=NOW - timedelta(hours=5))
    second = _queue_page(client, after=cursor.encode())
    second_ids = [handoff.pk for handoff in second.context["handoffs"]]

    assert first_ids == [handoff.pk for handoff in expected[:25]]
    assert (cursor.due_at, cursor.pk) == (expected[24].due_at, expected[24].pk)
    assert second_ids == [handoff.pk for handoff in expected[25:]]
    assert second.context["page"].next_cursor is None
    assert second.context["more_url"] == ""
    assert "Back to the most urgent" in second.content.decode()


def test_queue_more_link_keeps_the_filters(client):
    rep = RepFactory()
    source = SourceFactory()
    HandoffFactory.create_batch(26, rep=rep, lead__source=source)
    client.force_login(rep.user)

    response = _queue_page(client, source=source.pk)

    cursor = response.context["page"].next_cursor.encode()
    assert response.context["more_url"] == f"/queue/?source={source.pk}&after={cursor}"


def test_a_mangled_cursor_starts_the_queue_from_the_top(client):
    rep = RepFactory()
    handoff = HandoffFactory(rep=rep)
    client.force_login(rep.user)

    response = _queue_page(client, after="20260101T000000.000000Z_x")

    assert [h.pk for h in response.context["handoffs"]] == [handoff.pk]
    assert response.context["is_first_page"] is True


def test_the_cursor_reads_back_what_it_wrote():
    cursor = QueueCursor(due_at=datetime(2026, 3, 4, 10, 0, 0, 123456, tzinfo=UTC), pk=42)

    assert cursor.encode() == "20260304T100000.123456Z_42"
    assert QueueCursor.decode(cursor.encode()) == cursor
    with pytest.raises(ValueError, match="is not a queue position"):
        QueueCursor.decode("42")


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"sla": "breached"}, ["Late"]),
        ({"sla": "soon"}, ["Soon"]),
        ({"sla": "ok"}, ["Later", "Taken"]),
        ({"sla": "responded"}, ["Answered"]),
        ({"stage": "accepted"}, ["Answered", "Taken"]),
        ({"stage": "assigned", "sla": "ok"}, ["Later"]),
        ({"source": "WEBINAR"}, ["Soon"]),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_queue_filters_by_stage_source_and_sla_status(client, params, names):
    rep = RepFactory()
    webinar = SourceFactory(name="Webinar")
    HandoffFactory(rep=rep, due_at=NOW - timedelta(minutes=1), lead__first_name="Late")
    HandoffFactory(
        rep=rep, due_at=NOW + timedelta(minutes=60), lead__first_name="Soon", lead__source=webinar
    )
    HandoffFactory(rep=rep, due_at=NOW + timedelta(minutes=61), lead__first_name="Later")
    HandoffFactory(
        rep=rep,
        due_at=NOW + timedelta(hours=2),
        state=HandoffState.ACCEPTED,
        lead__first_name="Taken",
    )
    HandoffFactory(
        rep=rep,
        due_at=NOW - timedelta(hours=2),
        first_response_at=NOW - timedelta(hours=3),
        state=HandoffState.ACCEPTED,
        lead__first_name="Answered",
    )
    client.force_login(rep.user)
    params = {key: webinar.pk if value == "WEBINAR" else value for key, value in params.items()}

    response = _queue_page(client, **params)

    assert [h.lead.first_name for h in response.context["handoffs"]] == names
    # The counters describe the whole queue, whatever the filters.
    assert response.context["counts"] == {"breached": 1, "due_soon": 1, "new": 3, "total": 5}


def test_queue_says_when_no_handoff_matches_the_filters(client):
    rep = RepFactory()
    HandoffFactory(rep=rep)
    client.force_login(rep.user)

    response = _queue_page(client, sla="responded")

    assert "No open handoff matches these filters" in response.content.decode()


def test_an_unknown_filter_value_is_a_form_error_not_a_server_error(client):
    rep = RepFactory()
    HandoffFactory(rep=rep)
    client.force_login(rep.user)

    response = _queue_page(client, source="999", sla="whenever")

    assert response.context["handoffs"] == []
    assert "Select a valid choice." in response.content.decode()


def test_queue_uses_the_same_number_of_queries_for_1_and_20_filtered_handoffs(client):
    rep = RepFactory()
    source = SourceFactory()
    HandoffFactory(rep=rep, lead__source=source)
    client.force_login(rep.user)
    url = f"{reverse('queue')}?source={source.pk}&sla=ok"

    with CaptureQueriesContext(connection) as one:
        client.get(url)
    HandoffFactory.create_batch(19, rep=rep, lead__source=source)
    with CaptureQueriesContext(connection) as twenty:
        client.get(url)

    # As without filters, plus the look-up that checks the chosen source exists.
    assert (len(one.captured_queries), len(twenty.captured_queries)) == (10, 10)


HTMX = {"HTTP_HX_REQUEST": "true"}


def test_htmx_filters_answer_with_the_results_only(client):
    rep = RepFactory()
    HandoffFactory(rep=rep, lead__first_name="Grace")
    client.force_login(rep.user)

    response = client.get(reverse("queue"), {"sla": "ok"}, HTTP_HX_TARGET="queue-results", **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert content.startswith('<div id="queue-results">')
    assert "Grace" in content
    assert "<nav" not in content
    assert set(response["Vary"].split(", ")) == {"Cookie", "HX-Request", "HX-Target"}


def test_htmx_more_answers_with_the_next_rows_and_a_new_more_button(client):
    rep = RepFactory()
    handoffs = HandoffFactory.create_batch(27, rep=rep)
    client.force_login(rep.user)
    cursor = _queue_page(client).context["page"].next_cursor.encode()

    response = client.get(reverse("queue"), {"after": cursor}, HTTP_HX_TARGET="queue-table", **HTMX)

    content = response.content.decode()
    assert content.count('class="queue-item"') == 2
    assert f'id="handoff-{handoffs[25].pk}"' in content
    assert '<div id="queue-more" class="d-flex' in content
    assert 'hx-swap-oob="true"' in content
    assert "Show more" not in content


def test_htmx_accept_answers_with_the_row_and_the_counters(client):
    handoff = assigned_handoff()
    client.force_login(handoff.rep.user)

    response = client.post(reverse("handoff-accept", args=[handoff.pk]), **HTMX)

    content = response.content.decode()
    assert response.status_code == 200
    assert content.startswith(f'<tbody id="handoff-{handoff.pk}"')
    assert ">Accepted</span>" in content
    assert 'data-role="accept"' not in content
    assert 'data-counter="new">0<' in content
    assert "Accepted. The lead is yours to work." in content
    assert handoff_row(handoff.pk)["state"] == HandoffState.ACCEPTED


def test_htmx_accept_of_a_changed_handoff_answers_409_with_the_row_as_it_is(client):
    handoff = assigned_handoff()
    client.force_login(handoff.rep.user)
    client.post(reverse("handoff-accept", args=[handoff.pk]))
    events = HandoffEvent.objects.count()

    response = client.post(reverse("handoff-accept", args=[handoff.pk]), **HTMX)

    content = response.content.decode()
    assert response.status_code == 409
    assert f'id="handoff-{handoff.pk}"' in content
    assert "This handoff is already accepted" in content
    assert HandoffEvent.objects.count() == events


def test_htmx_reject_with_errors_answers_400_with_the_dialog_form(client):
    handoff = assigned_handoff()
    client.force_login(handoff.rep.user)

    response = client.post(
        reverse("handoff-reject", args=[handoff.pk]), {"reason": "competitor"}, **HTMX
    )

    content = response.content.decode()
    assert response.status_code == 400
    assert content.startswith("<form")
    assert f'hx-post="/handoffs/{handoff.pk}/reject/"' in content
    assert "Add a note: marketing needs to know why." in content
    assert "Grace Hopper" in content
    assert Rejection.objects.count() == 0


def test_htmx_reject_removes_the_row_and_closes_the_dialog(client):
    handoff = assigned_handoff()
    client.force_login(handoff.rep.user)

    response = client.post(
        reverse("handoff-reject", args=[handoff.pk]),
        {"reason": "competitor", "note": "Works at a rival."},
        **HTMX,
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Trigger"] == "handoff-dialog-done"
    assert f'<tbody id="handoff-{handoff.pk}" hx-swap-oob="delete"></tbody>' in content
    assert 'data-counter="total">0<' in content
    assert handoff_row(handoff.pk)["state"] == HandoffState.REJECTED


def test_htmx_reject_of_a_reassigned_handoff_closes_the_dialog_and_keeps_its_form(client):
    handoff = assigned_handoff()
    other = RepFactory()
    client.force_login(handoff.rep.user)
    handoff_reassign(handoff_id=handoff.pk, actor=None, reason="Rep is ill.", to_rep_id=other.pk)
    events = HandoffEvent.objects.count()

    response = client.post(
        reverse("handoff-reject", args=[handoff.pk]),
        {"reason": "competitor", "note": "Works at a rival."},
        **HTMX,
    )

    content = response.content.decode()
    assert response.status_code == 409
    assert response["HX-Trigger"] == "handoff-dialog-done"
    # The dialog gets a blank form back for the next row; the row itself comes out of band.
    assert content.startswith("<form")
    assert f'hx-post="/handoffs/{handoff.pk}/reject/"' in content
    assert "Works at a rival." not in content
    assert f'<template><tbody id="handoff-{handoff.pk}" class="queue-item"' in content
    assert f'data-handoff="{handoff.pk}" hx-swap-oob="true">' in content
    assert Rejection.objects.count() == 0
    assert HandoffEvent.objects.count() == events
    assert handoff_row(handoff.pk)["state"] == HandoffState.REASSIGNED


def test_htmx_attempt_with_errors_reopens_the_row_with_the_form(client):
    handoff = assigned_handoff()
    client.force_login(handoff.rep.user)

    response = client.post(
        reverse("handoff-attempt", args=[handoff.pk]), {"outcome": "connected"}, **HTMX
    )

    content = response.content.decode()
    assert response.status_code == 400
    assert f'<tr class="queue-expand" id="expand-{handoff.pk}">' in content
    assert f'id="attempt_{handoff.pk}_channel"' in content
    assert "This field is required." in content
    assert ContactAttempt.objects.count() == 0


def test_htmx_attempt_answers_with_the_row_marked_responded(client):
    handoff = assigned_handoff()
    client.force_login(handoff.rep.user)

    response = client.post(
        reverse("handoff-attempt", args=[handoff.pk]),
        {"channel": "call", "outcome": "connected"},
        **HTMX,
    )

    content = response.content.decode()
    assert response.status_code == 200
    assert '<span class="sla-responded text-nowrap">responded' in content
    assert "Attempt logged." in content
    assert ContactAttempt.objects.count() == 1


def test_htmx_fragments_show_times_in_the_viewers_timezone(client):
    rep = RepFactory(timezone="Europe/Paris")
    handoff = HandoffFactory(
        rep=rep, assigned_at=NOW, due_at=datetime(2025, 3, 4, 14, 0, tzinfo=UTC)
    )
    client.force_login(rep.user)

    with time_machine.travel(NOW, tick=False):
        response = client.post(reverse("handoff-accept", args=[handoff.pk]), **HTMX)

    assert "Tue 4 Mar 15:00" in response.content.decode()


def test_queue_rows_escape_what_leads_and_sources_carry(client):
    rep = RepFactory()
    HandoffFactory(
        rep=rep,
        lead__first_name="<b>Bold</b>",
        lead__job_title="<i>Head</i>",
        lead__company='"Quote" & Co',
        lead__campaign="<img src=x onerror=alert(1)>",
        lead__source=SourceFactory(name="<script>alert(2)</script>"),
    )
    client.force_login(rep.user)

    content = _queue_page(client).content.decode()

    assert "&lt;b&gt;Bold&lt;/b&gt; Example</a>" in content
    assert 'data-lead="&lt;b&gt;Bold&lt;/b&gt; Example"' in content
    assert "&lt;i&gt;Head&lt;/i&gt;" in content
    assert "&quot;Quote&quot; &amp; Co" in content
    assert "&lt;img src=x onerror=alert(1)&gt;" in content
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in content
    assert "<b>Bold" not in content
    assert "<img src=x" not in content
    assert "<script>alert(2)" not in content


def test_opening_an_action_address_in_the_browser_explains_instead_of_a_blank_page(client):
    handoff = HandoffFactory()
    client.force_login(handoff.rep.user)

    response = client.get(
        reverse("handoff-accept", args=[handoff.pk]),
        HTTP_ACCEPT="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    )

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert b"Nothing was changed" in response.content
    assert Handoff.objects.get(pk=handoff.pk).state == handoff.state


def test_a_refused_method_from_htmx_keeps_its_empty_body(client):
    handoff = HandoffFactory()
    client.force_login(handoff.rep.user)

    response = client.get(reverse("handoff-accept", args=[handoff.pk]), HTTP_HX_REQUEST="true")

    assert response.status_code == 405
    assert response.content == b""


def test_an_htmx_action_after_the_session_ended_sends_the_whole_page_to_the_login(client):
    handoff = HandoffFactory()

    response = client.post(
        reverse("handoff-accept", args=[handoff.pk]),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/queue/?source=3",
    )

    assert response.status_code == 200
    assert response["HX-Redirect"] == "/login/?next=%2Fqueue%2F%3Fsource%3D3"
    assert response.content == b""
    assert Handoff.objects.get(pk=handoff.pk).state == handoff.state


def test_a_plain_action_after_the_session_ended_still_redirects_to_the_login(client):
    handoff = HandoffFactory()

    response = client.post(reverse("handoff-accept", args=[handoff.pk]))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_a_stale_security_token_is_explained_as_such_not_as_a_missing_role():
    handoff = HandoffFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(handoff.rep.user)

    response = client.post(reverse("handoff-accept", args=[handoff.pk]), HTTP_HX_REQUEST="true")

    assert response.status_code == 403
    assert response["X-Handoff-Refused"] == "session"
    assert b"This page is out of date" in response.content
    assert Handoff.objects.get(pk=handoff.pk).state == handoff.state
