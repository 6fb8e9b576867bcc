"""Load the demo team: users for every role, five BDRs with real calendars, lead sources and SLA
policies. Safe to run again: it creates only what is missing and never resets a password or a
calendar that someone changed since."""

from dataclasses import dataclass
from datetime import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from handoff import roles
from handoff.models import SlaPolicy
from leads.models import Source
from reps.models import Rep, Team, WorkingPeriod

DEMO_PASSWORD = "handoff-demo"
TEAM_NAME = "Inbound"
WEEKDAYS = range(5)
NINE_TO_FIVE = ((time(9), time(17)),)
SPLIT_SHIFT = ((time(9), time(12)), (time(13), time(18)))

SOURCES = [
    ("Demo request", "demo-request"),
    ("Pricing-page visit", "pricing-page-visit"),
    ("Case-study download", "case-study-download"),
    ("Newsletter signup", "newsletter-signup"),
]

# name, source slug (None matches every source), business hours. The first match wins, so the
# catch-all default comes last.
SLA_POLICIES = [
    ("Demo request", "demo-request", 1),
    ("Pricing-page visit", "pricing-page-visit", 4),
    ("Case-study download", "case-study-download", 24),
    ("Default", None, 4),
]

# Apps whose models RevOps administers; marketing gets the lead import and read access to
# feedback only.
REVOPS_APPS = ("leads", "reps", "handoff", "feedback")
MARKETING_PERMISSIONS = (
    ("leads", "add_lead"),
    ("leads", "change_lead"),
    ("leads", "view_lead"),
    ("leads", "view_activity"),
    ("leads", "view_source"),
    ("feedback", "view_rejection"),
    ("feedback", "view_rejectionreason"),
)


@dataclass(frozen=True)
class DemoRep:
    username: str
    first_name: str
    last_name: str
    timezone: str
    holiday_country: str
    holiday_subdivision: str
    shifts: tuple[tuple[time, time], ...] = NINE_TO_FIVE


# Spread over the world: between them the five calendars cover every hour of a weekday (UTC), so
# the demo always has someone at work, and the SLA clocks visibly run in different timezones.
DEMO_REPS = [
    DemoRep("bdr1", "Maya", "Patel", "America/New_York", "US", "NY"),
    DemoRep("bdr2", "Oliver", "Hughes", "Europe/London", "GB", "ENG"),
    DemoRep("bdr3", "Lena", "Fischer", "Europe/Berlin", "DE", "BE", SPLIT_SHIFT),
    DemoRep("bdr4", "Diego", "Ramirez", "America/Los_Angeles", "US", "CA"),
    DemoRep("bdr5", "Wei Ling", "Tan", "Asia/Singapore", "SG", ""),
]


class Command(BaseCommand):
    help = "Create the demo team, lead sources and SLA policies (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            created = self._seed()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready ({created} rows created). Password for every demo user: "
                f"{DEMO_PASSWORD}"
            )
        )

    def _seed(self) -> int:
        created = 0
        groups = {name: Group.objects.get_or_create(name=name)[0] for name in roles.ALL_ROLES}
        created += self._grant_permissions(groups)

        admin, new = self._user("admin", "Ada", "Admin", is_staff=True, is_superuser=True)
        created += new
        manager, new = self._user("manager", "Morgan", "Reyes", groups=[groups[roles.MANAGER]])
        created += new
        created += self._user(
            "marketing", "Sam", "Okafor", is_staff=True, groups=[groups[roles.MARKETING]]
        )[1]
        created += self._user(
            "revops", "Riley", "Chen", is_staff=True, groups=[groups[roles.REVOPS]]
        )[1]

        team, new = Team.objects.get_or_create(name=TEAM_NAME, defaults={"manager": manager})
        created += new
        for demo in DEMO_REPS:
            created += self._rep(demo, team=team, group=groups[roles.BDR])

        for name, slug in SOURCES:
            created += Source.objects.get_or_create(slug=slug, defaults={"name": name})[1]
        for position, (name, slug, hours) in enumerate(SLA_POLICIES, start=1):
            source = Source.objects.get(slug=slug) if slug else None
            created += SlaPolicy.objects.get_or_create(
                name=name,
                defaults={
                    "source": source,
                    "first_response_hours": hours,
                    "position": position * 10,
                },
            )[1]
        return created

    def _user(
        self,
        username: str,
        first_name: str,
        last_name: str,
        *,
        is_staff: bool = False,
        is_superuser: bool = False,
        groups: list[Group] | None = None,
    ) -> tuple[AbstractBaseUser, bool]:
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{username}@handoff.example",
                "is_staff": is_staff,
                "is_superuser": is_superuser,
            },
        )
        if created:
            # The password validators guard forms; a documented demo password is set directly.
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        if groups:
            user.groups.add(*groups)
        return user, created

    def _rep(self, demo: DemoRep, *, team: Team, group: Group) -> int:
        user, user_created = self._user(
            demo.username, demo.first_name, demo.last_name, groups=[group]
        )
        rep, rep_created = Rep.objects.get_or_create(
            user=user,
            defaults={
                "team": team,
                "timezone": demo.timezone,
                "holiday_country": demo.holiday_country,
                "holiday_subdivision": demo.holiday_subdivision,
                "weekly_capacity": 50,
            },
        )
        if rep_created:
            WorkingPeriod.objects.bulk_create(
                WorkingPeriod(rep=rep, weekday=day, start=start, end=end)
                for day in WEEKDAYS
                for start, end in demo.shifts
            )
        return int(user_created) + int(rep_created)

    def _grant_permissions(self, groups: dict[str, Group]) -> int:
        before = sum(group.permissions.count() for group in groups.values())
        groups[roles.REVOPS].permissions.add(
            *Permission.objects.filter(content_type__app_label__in=REVOPS_APPS)
        )
        for app_label, codename in MARKETING_PERMISSIONS:
            groups[roles.MARKETING].permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return sum(group.permissions.count() for group in groups.values()) - before
