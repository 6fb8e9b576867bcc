"""The capacity report: handoffs per rep and ISO week against weekly capacity, and the MQL
volume projected from the last four complete weeks against the active reps' capacity."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth.models import Permission

from handoff import roles
from handoff.models import Handoff
from leads.models import LeadEvent
from leads.tests.factories import LeadFactory
from reps.models import Rep
from reps.selectors import RepWeek, mql_volume_projection, rep_capacity_by_week
from reps.tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

# Wednesday 2 December 2026, in ISO week 49 (Monday 30 November).
NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


def give(rep: Rep, *moments: datetime) -> None:
    for moment in moments:
        Handoff.objects.create(
            lead=LeadFactory(), rep=rep, first_response_hours=4, assigned_at=moment, due_at=moment
        )


def mqls(*moments: datetime, to_stage: str = "mql") -> None:
    for moment in moments:
        event = LeadEvent.objects.create(lead=LeadFactory(), from_stage="lead", to_stage=to_stage)
        # created_at is set on insert; the report reads when the lead qualified.
        LeadEvent.objects.filter(pk=event.pk).update(created_at=moment)


@pytest.fixture
def reps():
    ann = RepFactory(user__username="ann", weekly_capacity=50)
    bob = RepFactory(user__username="bob", timezone="America/New_York", weekly_capacity=20)
    give(
        ann,
        datetime(2026, 11, 20, 9, tzinfo=UTC),  # week 47: outside a two-week report
        datetime(2026, 11, 29, 23, 30, tzinfo=UTC),  # Sunday night: week 48
        datetime(2026, 11, 30, 0, 0, tzinfo=UTC),  # Monday midnight: week 49
        datetime(2026, 12, 1, 10, tzinfo=UTC),
        datetime(2026, 12, 2, 11, tzinfo=UTC),
    )
    give(
        bob,
        datetime(2026, 11, 30, 3, tzinfo=UTC),  # Sunday 22:00 in New York: week 48 for bob
        datetime(2026, 11, 30, 6, tzinfo=UTC),  # Monday 01:00 in New York: week 49
    )
    return ann, bob


def weeks_of(rows) -> dict[str, list[tuple[str, int, int, int]]]:  # noqa: ANN001
    return {
        row.rep.user.username: [
            (week.week, week.assigned, week.capacity, week.percent) for week in row.weeks
        ]
        for row in rows
    }


def test_handoffs_are_counted_per_rep_and_iso_week_in_the_reps_timezone(
    reps, django_assert_num_queries
):
    # One query for the reps, one aggregate per timezone in use.
    with django_assert_num_queries(3):
        rows = rep_capacity_by_week(now=NOW, weeks=2)

    assert weeks_of(rows) == {
        "ann": [("2026-W48", 1, 50, 2), ("2026-W49", 3, 50, 6)],
        "bob": [("2026-W48", 1, 20, 5), ("2026-W49", 1, 20, 5)],
    }


def test_an_inactive_rep_shows_only_when_they_had_handoffs_in_the_period(reps):
    ann, _ = reps
    Rep.objects.filter(pk=ann.pk).update(active=False)
    RepFactory(user__username="gone", active=False)

    rows = rep_capacity_by_week(now=NOW, weeks=3)

    assert weeks_of(rows) == {
        "ann": [("2026-W47", 1, 50, 2), ("2026-W48", 1, 50, 2), ("2026-W49", 3, 50, 6)],
        "bob": [("2026-W47", 0, 20, 0), ("2026-W48", 1, 20, 5), ("2026-W49", 1, 20, 5)],
    }


def test_a_week_over_capacity_shows_its_share():
    rep = RepFactory(user__username="small", weekly_capacity=2)
    give(rep, *[datetime(2026, 12, 1, hour, tzinfo=UTC) for hour in (9, 10, 11)])

    (row,) = rep_capacity_by_week(now=NOW, weeks=1)

    assert row.weeks == [RepWeek(week="2026-W49", assigned=3, capacity=2)]
    assert row.weeks[0].percent == 150


def test_mql_volume_is_projected_from_the_last_four_complete_weeks(reps):
    RepFactory(user__username="away", weekly_capacity=40, active=False)
    mqls(
        datetime(2026, 10, 31, 12, tzinfo=UTC),  # week 44: too old
        datetime(2026, 11, 2, 0, 0, tzinfo=UTC),  # week 45
        datetime(2026, 11, 8, 23, 59, tzinfo=UTC),  # week 45, Sunday night
        *[datetime(2026, 11, 16 + day, 10, tzinfo=UTC) for day in range(5)],  # week 47
        *[datetime(2026, 11, 23, hour, tzinfo=UTC) for hour in (8, 9, 10)],  # week 48
        datetime(2026, 11, 30, 0, 0, tzinfo=UTC),  # this week: not complete
    )
    mqls(datetime(2026, 11, 24, 10, tzinfo=UTC), to_stage="sql")

    projection = mql_volume_projection(now=NOW)

    assert projection.weekly == [("2026-W45", 2), ("2026-W46", 0), ("2026-W47", 5), ("2026-W48", 3)]
    assert projection.per_week == 2.5
    # The active reps: ann 50 and bob 20; the inactive rep's 40 does not count.
    assert projection.capacity == 70
    assert projection.percent == 4


def test_with_no_reps_the_projection_has_no_capacity():
    mqls(datetime(2026, 11, 25, 10, tzinfo=UTC))

    projection = mql_volume_projection(now=NOW)

    assert (projection.per_week, projection.capacity, projection.percent) == (0.25, 0, 0)


@pytest.fixture
def revops_client(client):
    revops = UserFactory(username="revops", is_staff=True, roles=[roles.REVOPS])
    revops.groups.get().permissions.add(*Permission.objects.filter(content_type__app_label="reps"))
    client.force_login(revops)
    return client


def test_the_capacity_page_shows_reps_weeks_and_the_projection(revops_client, reps):
    mqls(*[datetime(2026, 11, 24, hour, tzinfo=UTC) for hour in range(8, 18)])

    with time_machine.travel(NOW, tick=False):
        response = revops_client.get("/admin/reps/rep/capacity/", {"weeks": "2"})

    assert response.status_code == 200
    assert response.context["week_labels"] == ["2026-W48", "2026-W49"]
    assert weeks_of(response.context["rows"])["ann"] == [
        ("2026-W48", 1, 50, 2),
        ("2026-W49", 3, 50, 6),
    ]
    page = response.content.decode()
    assert "<td>3 / 50 (6%)</td>" in page
    assert "<td>2.50</td><td>70</td><td>4%</td>" in page
    assert (
        'href="/admin/reps/rep/capacity/"' in revops_client.get("/admin/reps/rep/").content.decode()
    )


def test_the_capacity_page_names_a_bad_week_count_and_shows_the_default(revops_client, reps):
    with time_machine.travel(NOW, tick=False):
        response = revops_client.get("/admin/reps/rep/capacity/", {"weeks": "99"})

    assert response.context["form"].errors == {
        "weeks": ["Ensure this value is less than or equal to 26."]
    }
    assert response.context["week_labels"] == ["2026-W46", "2026-W47", "2026-W48", "2026-W49"]


def test_staff_without_the_reps_permission_cannot_see_the_capacity_page(client):
    client.force_login(UserFactory(username="marketing", is_staff=True, roles=[roles.MARKETING]))

    assert client.get("/admin/reps/rep/capacity/").status_code == 403
