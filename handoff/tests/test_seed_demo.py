from datetime import time
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from handoff import roles
from handoff.management.commands.seed_demo import DEMO_PASSWORD
from handoff.models import SlaPolicy
from leads.models import Source
from reps.models import Rep, Team, WorkingPeriod

pytestmark = pytest.mark.django_db

User = get_user_model()


def seed() -> None:
    call_command("seed_demo", stdout=StringIO())


def test_seed_demo_creates_the_team_with_calendars_and_logins():
    seed()

    assert sorted(User.objects.values_list("username", flat=True)) == [
        "admin", "bdr1", "bdr2", "bdr3", "bdr4", "bdr5", "manager", "marketing", "revops",
    ]  # fmt: skip
    for username in ("admin", "manager", "marketing", "revops", "bdr3"):
        assert User.objects.get(username=username).check_password(DEMO_PASSWORD)
    team = Team.objects.get()
    assert (team.name, team.manager.username) == ("Inbound", "manager")
    assert list(
        Rep.objects.order_by("user__username").values_list(
            "user__username", "timezone", "holiday_country", "weekly_capacity", "team__name"
        )
    ) == [
        ("bdr1", "America/New_York", "US", 50, "Inbound"),
        ("bdr2", "Europe/London", "GB", 50, "Inbound"),
        ("bdr3", "Europe/Berlin", "DE", 50, "Inbound"),
        ("bdr4", "America/Los_Angeles", "US", 50, "Inbound"),
        ("bdr5", "Asia/Singapore", "SG", 50, "Inbound"),
    ]
    assert list(
        WorkingPeriod.objects.filter(rep__user__username="bdr3", weekday=0).values_list(
            "start", "end"
        )
    ) == [(time(9), time(12)), (time(13), time(18))]
    assert WorkingPeriod.objects.filter(rep__user__username="bdr1").count() == 5
    assert set(WorkingPeriod.objects.values_list("weekday", flat=True)) == {0, 1, 2, 3, 4}


def test_seed_demo_gives_each_role_its_group_and_revops_the_admin_without_superuser():
    seed()

    assert roles.has_role(User.objects.get(username="manager"), roles.MANAGER)
    assert roles.has_role(User.objects.get(username="bdr1"), roles.BDR)
    assert roles.has_role(User.objects.get(username="marketing"), roles.MARKETING)
    revops = User.objects.get(username="revops")
    assert (revops.is_staff, revops.is_superuser) == (True, False)
    assert revops.has_perms(
        ["handoff.change_slapolicy", "leads.change_scoringrule", "reps.change_rep",
         "feedback.change_rejectionreason"]
    )  # fmt: skip
    assert not revops.has_perm("auth.change_user")
    marketing = User.objects.get(username="marketing")
    assert marketing.has_perm("leads.add_lead")
    assert not marketing.has_perm("handoff.change_slapolicy")
    assert User.objects.get(username="admin").is_superuser


def test_seed_demo_creates_the_sources_and_their_sla_policies_in_order():
    seed()

    assert sorted(Source.objects.values_list("slug", "name")) == [
        ("case-study-download", "Case-study download"),
        ("demo-request", "Demo request"),
        ("newsletter-signup", "Newsletter signup"),
        ("pricing-page-visit", "Pricing-page visit"),
    ]
    assert list(
        SlaPolicy.objects.order_by("position").values_list(
            "name", "source__slug", "first_response_hours", "active"
        )
    ) == [
        ("Demo request", "demo-request", 1, True),
        ("Pricing-page visit", "pricing-page-visit", 4, True),
        ("Case-study download", "case-study-download", 24, True),
        ("Default", None, 4, True),
    ]


def test_seed_demo_run_twice_creates_nothing_more_and_keeps_changed_passwords():
    seed()
    manager = User.objects.get(username="manager")
    manager.set_password("changed-by-the-user")
    manager.save()
    counts = (
        User.objects.count(),
        Rep.objects.count(),
        WorkingPeriod.objects.count(),
        Source.objects.count(),
        SlaPolicy.objects.count(),
    )

    seed()

    assert counts == (9, 5, 30, 4, 4)
    assert (
        User.objects.count(),
        Rep.objects.count(),
        WorkingPeriod.objects.count(),
        Source.objects.count(),
        SlaPolicy.objects.count(),
    ) == counts
    manager.refresh_from_db()
    assert manager.check_password("changed-by-the-user")
