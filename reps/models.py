import functools
import zoneinfo
from datetime import date, datetime

import holidays
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from handoff.business_hours import BusinessCalendar, Shift


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a known timezone, e.g. Europe/Paris.")


def validate_holiday_country(value: str) -> None:
    if value and value not in holidays.list_supported_countries():
        raise ValidationError(f"'{value}' is not a country the holiday calendar knows, e.g. US.")


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_teams",
    )
    slack_webhook_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="A Slack incoming webhook; the team's reps without their own get alerts here.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RepQuerySet(models.QuerySet):
    def active(self) -> "RepQuerySet":
        return self.filter(active=True, user__is_active=True)


class Rep(models.Model):
    """A person who works leads, with the calendar their SLA clock runs on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rep"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="reps"
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_reps",
        help_text="Receives this rep's escalations. Empty means the team's manager.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    holiday_country = models.CharField(
        max_length=3, blank=True, validators=[validate_holiday_country],
        help_text="ISO code of the country whose public holidays close this rep's calendar.",
    )  # fmt: skip
    holiday_subdivision = models.CharField(max_length=10, blank=True)
    weekly_capacity = models.PositiveIntegerField(
        default=50, help_text="New leads this rep can take in a week; also the routing weight."
    )
    active = models.BooleanField(default=True)
    slack_webhook_url = models.URLField(
        max_length=500,
        blank=True,
        help_text="A Slack incoming webhook for this rep's alerts; empty uses the team's.",
    )
    # Smooth weighted round robin: each eligible rep earns its weight per assignment and the
    # pick pays back the total, so the split follows the weights without bursts.
    routing_credit = models.FloatField(default=0.0, editable=False)
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = RepQuerySet.as_manager()

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()

    @property
    def escalation_manager(self):  # noqa: ANN201
        if self.manager_id:
            return self.manager
        return self.team.manager if self.team_id else None

    def calendar(self, *, days_off: frozenset[date] = frozenset()) -> BusinessCalendar:
        shifts = [
            Shift(weekday=period.weekday, start=period.start, end=period.end)
            for period in self.working_periods.all()
        ]
        closed = ClosedDays(
            public=(
                public_holidays(self.holiday_country, self.holiday_subdivision)
                if self.holiday_country
                else None
            ),
            company=days_off,
        )
        return BusinessCalendar.build(timezone=self.timezone, shifts=shifts, closed_days=closed)


@functools.lru_cache(maxsize=128)
def public_holidays(country: str, subdivision: str) -> holidays.HolidayBase:
    """One holiday calendar per country and subdivision for the whole process: building one
    is slow, and the package fills in years lazily as dates are asked for."""
    return holidays.country_holidays(country, subdiv=subdivision or None)


class ClosedDays:
    """Public holidays and company days off, answering `day in closed_days`."""

    def __init__(self, *, public: holidays.HolidayBase | None, company: frozenset[date]) -> None:
        self.public = public
        self.company = company

    def __contains__(self, day: object) -> bool:
        return day in self.company or (self.public is not None and day in self.public)


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WorkingPeriod(models.Model):
    """One shift in a rep's week. An end before the start runs overnight; 23:59 means midnight."""

    rep = models.ForeignKey(Rep, on_delete=models.CASCADE, related_name="working_periods")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"

    def clean(self) -> None:
        if self.start == self.end:
            raise ValidationError(f"A shift cannot start and end at {self.start:%H:%M}.")


class Absence(models.Model):
    """Out of office: routing skips the rep from start to end."""

    rep = models.ForeignKey(Rep, on_delete=models.CASCADE, related_name="absences")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")),
                name="absence_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.rep} away {self.starts_at:%Y-%m-%d} to {self.ends_at:%Y-%m-%d}"

    def covers(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at


class CompanyDayOff(models.Model):
    """A day the whole company is closed, on top of public holidays."""

    day = models.DateField(unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["day"]
        verbose_name = "company day off"
        verbose_name_plural = "company days off"

    def __str__(self) -> str:
        return f"{self.day}: {self.name}"


class RoutingRule(models.Model):
    """Which reps may take a lead. Rules are tried in order and the first match wins; a rule
    with no conditions is the fallback pool that catches the rest."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)

    countries = models.CharField(
        max_length=500, blank=True, help_text="Comma-separated; empty matches any country."
    )
    industries = models.CharField(
        max_length=500, blank=True, help_text="Comma-separated; empty matches any industry."
    )
    sources = models.ManyToManyField(
        "leads.Source", blank=True, help_text="Empty matches any source."
    )
    min_company_size = models.PositiveIntegerField(null=True, blank=True)
    max_company_size = models.PositiveIntegerField(null=True, blank=True)
    min_score = models.IntegerField(null=True, blank=True)

    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="routing_rules"
    )
    reps = models.ManyToManyField(Rep, blank=True, related_name="routing_rules")

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if (
            self.min_company_size is not None
            and self.max_company_size is not None
            and self.min_company_size > self.max_company_size
        ):
            raise ValidationError(
                f"Rule '{self.name}': the minimum company size {self.min_company_size} is above "
                f"the maximum {self.max_company_size}."
            )
