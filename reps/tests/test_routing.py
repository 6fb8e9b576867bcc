from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction

from handoff.models import Handoff
from leads.tests.factories import LeadFactory
from reps.models import Absence, Rep
from reps.services import rep_pick
from reps.tests.factories import RepFactory, TeamFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 15, tzinfo=UTC)  # a Tuesday


def pick(now: datetime = NOW) -> Rep | None:
    with transaction.atomic():
        return rep_pick(now=now).rep


def picks(count: int, now: datetime = NOW) -> list[str]:
    return [pick(now).user.username for _ in range(count)]


def give(rep: Rep, count: int, at: datetime = NOW) -> None:
    for _ in range(count):
        Handoff.objects.create(
            lead=LeadFactory(), rep=rep, first_response_hours=4, assigned_at=at, due_at=at
        )


@pytest.fixture
def team():
    return TeamFactory()


def test_equal_reps_take_turns(team):
    for name in ("ann", "bob", "cid"):
        RepFactory(user__username=name, team=team)
    assert picks(6) == ["ann", "bob", "cid", "ann", "bob", "cid"]


def test_split_follows_capacity_weights(team):
    RepFactory(user__username="big", team=team, weekly_capacity=60)
    RepFactory(user__username="small", team=team, weekly_capacity=20)
    counts = Counter(picks(40))
    assert counts == {"big": 30, "small": 10}


def test_inactive_and_out_of_office_reps_are_skipped(team):
    RepFactory(user__username="ann", team=team)
    RepFactory(user__username="bob", team=team, active=False)
    away = RepFactory(user__username="cid", team=team)
    Absence.objects.create(
        rep=away, starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=1)
    )
    with transaction.atomic():
        decision = rep_pick(now=NOW)
    assert decision.rep.user.username == "ann"
    assert decision.skipped == {away.pk: "out of office"}
    assert picks(3) == ["ann", "ann", "ann"]


def test_rep_at_weekly_capacity_is_skipped(team):
    full = RepFactory(user__username="full", team=team, weekly_capacity=3)
    RepFactory(user__username="free", team=team)
    give(full, 3, at=NOW - timedelta(days=1))
    assert picks(2) == ["free", "free"]


def test_capacity_counts_from_monday_in_the_reps_timezone(team):
    # Monday 30 November 2026 03:00 UTC is still Sunday in Los Angeles: last week for that rep.
    rep = RepFactory(
        user__username="la", team=team, weekly_capacity=1, timezone="America/Los_Angeles"
    )
    give(rep, 1, at=datetime(2026, 11, 30, 3, tzinfo=UTC))
    assert pick().user.username == "la"


def test_nobody_eligible_returns_no_rep(team):
    RepFactory(user__username="off", team=team, active=False)
    assert pick() is None


def test_rep_back_from_leave_is_not_flooded(team):
    RepFactory(user__username="ann", team=team)
    bob = RepFactory(user__username="bob", team=team)
    absence = Absence.objects.create(
        rep=bob, starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(hours=1)
    )
    assert picks(10) == ["ann"] * 10
    absence.delete()
    # Back at work, bob takes turns with ann instead of getting the next ten leads.
    assert Counter(picks(10, now=NOW + timedelta(hours=2))) == {"ann": 5, "bob": 5}


def test_reps_at_work_now_come_first_and_off_shift_reps_earn_nothing(team):
    # 15:00 UTC: London (09-17) is at work, Singapore (09-17, UTC+8) is not.
    london = RepFactory(user__username="london", team=team, timezone="Europe/London")
    singapore = RepFactory(user__username="singapore", team=team, timezone="Asia/Singapore")
    with transaction.atomic():
        decision = rep_pick(now=NOW)
    assert decision.rep == london
    assert decision.skipped == {singapore.pk: "off shift now"}
    assert picks(3) == ["london", "london", "london"]
    singapore.refresh_from_db()
    assert singapore.routing_credit == 0
    # At 03:00 UTC only Singapore works.
    assert picks(1, now=datetime(2026, 12, 2, 3, tzinfo=UTC)) == ["singapore"]


def test_a_rep_at_work_is_preferred_only_up_to_a_days_share_of_unanswered_leads(team):
    # Ten a week over five working days: two a day.
    london = RepFactory(
        user__username="london", team=team, timezone="Europe/London", weekly_capacity=10
    )
    singapore = RepFactory(
        user__username="singapore", team=team, timezone="Asia/Singapore", weekly_capacity=10
    )
    give(london, 1)
    assert picks(1) == ["london"]

    give(london, 1)
    with transaction.atomic():
        decision = rep_pick(now=NOW)

    assert singapore.pk not in decision.skipped
    assert {rep.pk for rep in decision.eligible} == {london.pk, singapore.pk}
    assert Counter(picks(2)) == {"london": 1, "singapore": 1}


def test_when_nobody_is_at_work_every_eligible_rep_shares(team):
    RepFactory(user__username="ann", team=team)
    RepFactory(user__username="bob", team=team)
    saturday = datetime(2026, 12, 5, 12, tzinfo=UTC)
    assert picks(2, now=saturday) == ["ann", "bob"]
