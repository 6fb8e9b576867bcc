"""Display helpers for the pages reps, managers and marketing work in.

The SLA clock itself lives in handoff.services; these only describe a deadline that has already
been computed. "Time left" is wall-clock time until `due_at`, which is what a rep can act on;
the business hours are already folded into the deadline.
"""

import functools
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms, template
from django.core.exceptions import ObjectDoesNotExist
from django.urls import get_script_prefix, reverse
from django.utils.dateparse import parse_datetime

from leads.models import ActivityKind, BantStatus

register = template.Library()

# A handoff is flagged as due soon when its deadline is this close and nobody has responded.
DUE_SOON = timedelta(hours=1)

FALLBACK_TIMEZONE = "UTC"


def duration_text(seconds: float) -> str:
    """A short, human duration: "2d 4h", "3h 05m", "12m", "under a minute"."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m"
    return "under a minute"


def time_left_text(*, due: datetime, now: datetime) -> str:
    """ "3h 05m left" before the deadline, "overdue by 20m" from the deadline on.

    A deadline that is exactly now counts as missed, as it does for the SLA sweep.
    """
    remaining = (due - now).total_seconds()
    if remaining > 0:
        return f"{duration_text(remaining)} left"
    return f"overdue by {duration_text(remaining)}"


def sla_status(*, handoff: Any, now: datetime) -> str:
    """Where a handoff stands against its first-response deadline.

    One of "responded", "breached", "soon" (due within DUE_SOON) or "ok". Both the queue's
    counters and its row colours read this, so they always agree.
    """
    if handoff.first_response_at is not None:
        return "responded"
    if handoff.due_at <= now:
        return "breached"
    if handoff.due_at - now <= DUE_SOON:
        return "soon"
    return "ok"


@register.filter
def time_left(due: datetime | None, now: datetime) -> str:
    if due is None or now is None:
        return ""
    return time_left_text(due=due, now=now)


@register.filter(name="sla_status")
def sla_status_filter(handoff: Any, now: datetime) -> str:
    return sla_status(handoff=handoff, now=now)


@register.filter
def iso_utc(value: datetime | None) -> str:
    """An instant as ISO 8601 in UTC, to the second, for scripts to read from data attributes."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds")


@register.filter
def parse_iso(value: str | None) -> datetime | None:
    """The ISO strings stored in a lead's score breakdown, back to datetimes for `|date`."""
    if not value:
        return None
    return parse_datetime(value)


@register.filter
def activity_label(kind: str) -> str:
    try:
        return ActivityKind(kind).label
    except ValueError:
        return kind


BANT_CLASSES = {
    BantStatus.CONFIRMED: "text-bg-success",
    BantStatus.NOT_MET: "text-bg-danger",
    BantStatus.UNKNOWN: "text-bg-secondary",
}


@register.filter
def bant_class(status: str) -> str:
    return BANT_CLASSES.get(status, "text-bg-secondary")


@register.filter
def share_of(count: int, total: int) -> int:
    """A whole-number percentage, for the bars on the feedback page."""
    if not total:
        return 0
    return round(100 * count / total)


def viewer_timezone_name(user: Any) -> str:
    """The timezone pages are shown in: the viewer's own rep calendar, else UTC.

    A rep reads deadlines in the same local time their SLA clock runs on; managers, marketing
    and RevOps work across reps in several zones, so they get one unambiguous zone.
    """
    if user is None or not user.is_authenticated:
        return FALLBACK_TIMEZONE
    try:
        name = user.rep.timezone
    except ObjectDoesNotExist:
        return FALLBACK_TIMEZONE
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return FALLBACK_TIMEZONE
    return name


@register.simple_tag(takes_context=True)
def viewer_timezone(context: template.Context) -> str:
    request = context.get("request")
    return viewer_timezone_name(getattr(request, "user", None))


@register.filter
def percent(rate: float | None) -> str:
    """A share from 0 to 1 as a whole percentage; a dash when there is nothing to measure."""
    if rate is None:
        return "—"
    return f"{round(100 * rate)}%"


@register.filter
def hours(value: float | None) -> str:
    """Hours as a short duration ("45m", "3h 05m", "2d 4h"); a dash when unknown."""
    if value is None:
        return "—"
    return duration_text(value * 3600) if value * 3600 >= 60 else "under a minute"


@register.filter
def get_item(mapping: dict, key: str) -> Any:
    return mapping.get(key, "")


@register.filter
def md_cell(value: Any) -> str:
    """Text for a Markdown table cell or list item: pipes escaped, line breaks folded."""
    text = " ".join(str(value).split())
    return text.replace("|", "\\|")


# The queue reverses the same few URLs for every row; building them from a pattern reversed
# once per process keeps a page of 25 rows from spending milliseconds in the URL resolver.
_LINKS = {
    "packet": "handoff-detail",
    "accept": "handoff-accept",
    "reject": "handoff-reject",
    "attempt": "handoff-attempt",
    "bant": "handoff-bant",
}
_ID_MARK = "4242424242"


@functools.lru_cache(maxsize=8)
def _link_patterns(script_prefix: str) -> tuple[dict[str, tuple[str, str]], str]:
    patterns = {}
    for key, name in _LINKS.items():
        head, _, tail = reverse(name, args=[_ID_MARK]).partition(_ID_MARK)
        patterns[key] = (head, tail)
    return patterns, reverse("queue")


@register.simple_tag
def handoff_links(handoff_id: int) -> dict[str, str]:
    """The packet and action URLs of one handoff, as `{% url %}` would give them, and the
    queue's."""
    patterns, queue = _link_patterns(get_script_prefix())
    links = {key: f"{head}{handoff_id}{tail}" for key, (head, tail) in patterns.items()}
    links["queue"] = queue
    return links


@register.filter
def field_choices(field: forms.Field) -> list[tuple[str, str]]:
    """A choice field's (value, label) pairs as text, for drawing a select by hand. A model
    choice field's rows are read with one plain query: looping over its own choices would
    count them first and read them through a server-side cursor."""
    if isinstance(field, forms.ModelChoiceField):
        choices = [("", field.empty_label)] if field.empty_label is not None else []
        return choices + [
            (str(field.prepare_value(row)), field.label_from_instance(row))
            for row in field.queryset
        ]
    return [(str(value), label) for value, label in field.choices]
