"""Filters for the lists people work from: the rep's queue, the team's queue and marketing's
drill-down into rejections. They read the query string; a value they do not know is a form
error shown on the page, never a server error."""

from datetime import UTC, datetime, timedelta

import django_filters
from django.db.models import Q, QuerySet

from feedback.models import Rejection, RejectionReason
from feedback.selectors import NONE_KEY, SCORE_BANDS, score_band_q
from handoff.models import Handoff, HandoffState
from handoff.templatetags.handoff_tags import DUE_SOON
from leads.models import Source

SLA_BREACHED = "breached"
SLA_DUE_SOON = "soon"
SLA_ON_TRACK = "ok"
SLA_ANSWERED = "responded"
# The same names as handoff_tags.sla_status, so that a filtered row has the colour it was
# filtered by.
SLA_CHOICES = [
    (SLA_BREACHED, "Past deadline"),
    (SLA_DUE_SOON, "Due within an hour"),
    (SLA_ON_TRACK, "On track"),
    (SLA_ANSWERED, "Answered"),
]
STAGE_CHOICES = [
    (HandoffState.ASSIGNED, "New: not accepted yet"),
    (HandoffState.ACCEPTED, "Accepted"),
]


class StrictFilterSet(django_filters.FilterSet):
    """A filter set whose results are empty when a filter is not understood, so that a link
    with a bad value never passes off the whole list as the filtered one."""

    def results(self) -> QuerySet:
        if self.is_bound and not self.is_valid():
            return self.queryset.none()
        return self.qs


class QueueFilter(StrictFilterSet):
    """Stage (new or accepted), source and SLA status of a queue's open handoffs."""

    stage = django_filters.ChoiceFilter(
        field_name="state", choices=STAGE_CHOICES, label="Stage", empty_label="Any stage"
    )
    source = django_filters.ModelChoiceFilter(
        field_name="lead__source",
        queryset=Source.objects.order_by("name"),
        label="Source",
        empty_label="Any source",
    )
    sla = django_filters.ChoiceFilter(
        method="filter_sla", choices=SLA_CHOICES, label="SLA", empty_label="Any SLA status"
    )

    class Meta:
        model = Handoff
        fields: list[str] = []

    def __init__(self, *args, now: datetime, **kwargs) -> None:  # noqa: ANN002,ANN003
        self.now = now
        super().__init__(*args, **kwargs)
        for field in self.form.fields.values():
            field.widget.attrs.update({"class": "form-select form-select-sm"})

    @property
    def is_filtered(self) -> bool:
        """Whether the request asks for any filter, understood or not."""
        return self.is_bound and any(self.data.get(name) for name in self.filters)

    def filter_sla(self, queryset: QuerySet[Handoff], name: str, value: str) -> QuerySet[Handoff]:
        waiting = Q(first_response_at__isnull=True)
        if value == SLA_BREACHED:
            return queryset.filter(waiting, due_at__lte=self.now)
        if value == SLA_DUE_SOON:
            return queryset.filter(waiting, due_at__gt=self.now, due_at__lte=self.now + DUE_SOON)
        if value == SLA_ON_TRACK:
            return queryset.filter(waiting, due_at__gt=self.now + DUE_SOON)
        return queryset.filter(first_response_at__isnull=False)


class RejectionFilter(StrictFilterSet):
    """One cell of the feedback review: a source, campaign, reason or score band, and a week.

    `none` asks for leads with no source or no campaign, as the review's links do.
    """

    source = django_filters.CharFilter(method="filter_source")
    campaign = django_filters.CharFilter(method="filter_campaign")
    reason = django_filters.ModelChoiceFilter(
        field_name="reason", to_field_name="code", queryset=RejectionReason.objects.all()
    )
    band = django_filters.ChoiceFilter(
        method="filter_band", choices=[(key, label) for key, label, _, _ in SCORE_BANDS]
    )
    week = django_filters.DateFilter(method="filter_week", label="Week starting")

    class Meta:
        model = Rejection
        fields: list[str] = []

    def filter_source(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == NONE_KEY:
            return queryset.filter(lead__source__isnull=True)
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(lead__source_id=int(value))

    def filter_campaign(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == NONE_KEY:
            return queryset.filter(lead__campaign="")
        return queryset.filter(lead__campaign=value)

    def filter_band(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(score_band_q(value))

    def filter_week(self, queryset: QuerySet, name: str, value) -> QuerySet:  # noqa: ANN001
        # The review counts a rejection in the ISO week its handoff ended, in UTC.
        monday = value - timedelta(days=value.weekday())
        start = datetime.combine(monday, datetime.min.time(), tzinfo=UTC)
        return queryset.filter(
            handoff__ended_at__gte=start, handoff__ended_at__lt=start + timedelta(days=7)
        )
