from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from feedback.models import Rejection
from handoff import roles
from handoff.models import ContactAttempt, Handoff, HandoffEvent, HandoffState
from handoff.services import handoff_assign
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


def test_revops_reads_the_packet_without_the_forms(client):
    handoff = assigned_handoff()
    revops = UserFactory(roles=[roles.REVOPS])
    client.force_login(revops)

    response = client.get(reverse("handoff-detail", args=[handoff.pk]))

    assert response.status_code == 200
    assert response.context["can_act"] is False
    assert reverse("handoff-reject", args=[handoff.pk]) not in response.content.decode()
