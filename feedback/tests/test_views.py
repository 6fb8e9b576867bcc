import pytest
from django.db import transaction
from django.urls import reverse

from handoff import roles
from handoff.services import handoff_assign, handoff_reject
from leads.models import Stage
from leads.tests.factories import LeadFactory, SourceFactory
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db


def reject(*, source_name: str, reason_code: str, note: str, campaign: str = "") -> None:
    """Route an MQL to the rep and have the rep reject it, through the services."""
    source = SourceFactory(name=source_name, slug=source_name.lower().replace(" ", "-"))
    lead = LeadFactory(
        stage=Stage.MQL, mql_count=1, source=source, campaign=campaign, first_name="Ada", score=42
    )
    with transaction.atomic():
        handoff = handoff_assign(lead=lead, actor=None)
    handoff_reject(
        handoff_id=handoff.pk, actor=handoff.rep.user, reason_code=reason_code, note=note
    )


def test_marketing_sees_rejections_counted_by_reason_and_by_source(client):
    RepFactory(user__first_name="Bea", user__last_name="Rep")
    reject(source_name="Webinar", reason_code="competitor", note="Works at a rival.")
    reject(source_name="Webinar", reason_code="not-qualified", note="No team to sell to.")
    reject(
        source_name="Ebook",
        reason_code="not-qualified",
        note="Student project.",
        campaign="Spring ebook",
    )
    client.force_login(UserFactory(roles=[roles.MARKETING]))

    response = client.get(reverse("feedback-review"))

    assert response.status_code == 200
    assert response.context["total"] == 3
    assert response.context["by_reason"] == [
        {"reason__label": "Not qualified", "reason__outcome": "recycle", "count": 2},
        {"reason__label": "Competitor", "reason__outcome": "disqualify", "count": 1},
    ]
    assert response.context["by_source"] == [
        {"lead__source__name": "Webinar", "count": 2},
        {"lead__source__name": "Ebook", "count": 1},
    ]
    assert response.context["by_campaign"] == [
        {"lead__campaign": "", "count": 2},
        {"lead__campaign": "Spring ebook", "count": 1},
    ]
    recent = response.context["recent"]
    assert [(r.reason.code, r.note, r.lead.source.name) for r in recent] == [
        ("not-qualified", "Student project.", "Ebook"),
        ("not-qualified", "No team to sell to.", "Webinar"),
        ("competitor", "Works at a rival.", "Webinar"),
    ]
    content = response.content.decode()
    assert "Works at a rival." in content
    assert "Bea Rep" in content
    assert "Spring ebook" in content


def test_feedback_page_shows_an_empty_state(client):
    client.force_login(UserFactory(roles=[roles.MARKETING]))

    response = client.get(reverse("feedback-review"))

    assert response.context["total"] == 0
    assert "No rejections yet." in response.content.decode()


def test_feedback_page_uses_the_same_number_of_queries_for_1_and_10_rejections(
    client, django_assert_num_queries
):
    RepFactory()
    client.force_login(UserFactory(roles=[roles.MARKETING]))
    reject(source_name="Webinar", reason_code="competitor", note="Rival.")
    # Session, user, roles, the total, the three groupings, the recent list, the viewer's rep
    # for the timezone and the unread notification count.
    with django_assert_num_queries(10):
        client.get(reverse("feedback-review"))

    for number in range(9):
        reject(source_name=f"Source {number}", reason_code="duplicate", note="Seen before.")

    with django_assert_num_queries(10):
        client.get(reverse("feedback-review"))
