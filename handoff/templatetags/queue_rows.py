"""The work queue's rows, drawn in Python.

The queue is the page reps keep open all day, and its rows are most of its cost: the template
language spends about half a millisecond a row resolving variables and escaping, and
format_html little less. This draws the same markup as one string per row, escaping every
value that comes from data with html.escape. The partial handoff/partials/queue_row.html only
calls this tag, so a row is one piece of markup wherever it is drawn.
"""

import functools
from datetime import datetime
from html import escape
from typing import Any

from django import template
from django.utils import timezone
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from handoff.models import HandoffState
from handoff.templatetags.handoff_tags import handoff_links, iso_utc, sla_status, time_left_text

register = template.Library()

COLUMNS = 9


@functools.lru_cache(maxsize=16)
def _names(language: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Day and month abbreviations in the active language, as the `date` filter's D and M
    write them."""
    days = tuple(str(WEEKDAYS_ABBR[day]) for day in range(7))
    months = ("", *(str(MONTHS_3[month]).title() for month in range(1, 13)))
    return days, months


def _short(value: datetime) -> str:
    """ "Tue 4 Mar 15:00" in the active timezone: the `date` filter's "D j M H:i"."""
    local = timezone.localtime(value)
    days, months = _names(get_language())
    return f"{days[local.weekday()]} {local.day} {months[local.month]} {local:%H:%M}"


def _time(value: datetime) -> str:
    return f'<time datetime="{iso_utc(value)}" class="text-nowrap">{escape(_short(value))}</time>'


def _state_badge(handoff: Any) -> str:
    if handoff.state == HandoffState.ASSIGNED:
        return '<span class="badge text-bg-primary">New</span>'
    css = "text-bg-success" if handoff.is_open else "text-bg-secondary"
    return f'<span class="badge {css}">{escape(str(handoff.get_state_display()))}</span>'


def _time_left(handoff: Any, status: str, now: datetime) -> str:
    if status == "responded":
        local = timezone.localtime(handoff.first_response_at)
        day = _names(get_language())[0][local.weekday()]
        return (
            f'<span class="sla-responded text-nowrap">responded {escape(day)} {local:%H:%M}</span>'
        )
    if not handoff.is_open:
        return ""
    left = time_left_text(due=handoff.due_at, now=now)
    return (
        f'<span class="sla-{status} text-nowrap" data-due="{iso_utc(handoff.due_at)}">'
        f"{escape(left)}</span>"
    )


def _actions(handoff: Any, links: dict[str, str], csrf: str, expanded: bool) -> str:
    if not handoff.is_open:
        return '<span class="small text-body-secondary">No longer in your queue</span>'
    pk = handoff.pk
    packet = escape(links["packet"])
    accept = ""
    if handoff.state == HandoffState.ASSIGNED:
        url = escape(links["accept"])
        accept = (
            f'<form method="post" action="{url}" hx-post="{url}" hx-target="closest tbody"'
            f' hx-swap="outerHTML">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf)}">'
            f'<input type="hidden" name="next" value="{escape(links["queue"])}">'
            '<button type="submit" class="btn btn-sm btn-success text-nowrap"'
            ' data-role="accept">Accept</button></form>'
        )
    return (
        '<div class="d-flex flex-wrap flex-md-nowrap gap-1 justify-content-md-end">'
        f"{accept}"
        f'<a class="btn btn-sm btn-outline-primary text-nowrap" href="{packet}#log-attempt"'
        f' data-role="attempt" data-action="{escape(links["attempt"])}"'
        f' aria-controls="expand-{pk}" aria-expanded="{"true" if expanded else "false"}">'
        "Log attempt</a>"
        f'<a class="btn btn-sm btn-outline-secondary text-nowrap" href="{packet}#bant"'
        f' data-role="bant" hx-get="{escape(links["bant"])}" hx-target="#expand-slot-{pk}"'
        f' aria-controls="expand-{pk}">BANT</a>'
        f'<a class="btn btn-sm btn-outline-danger text-nowrap" href="{packet}#reject"'
        ' data-role="reject" data-bs-toggle="modal" data-bs-target="#reject-modal"'
        f' data-action="{escape(links["reject"])}"'
        f' data-lead="{escape(handoff.lead.display_name)}">Reject</a>'
        "</div>"
    )


@register.simple_tag(takes_context=True)
def queue_row(
    context: template.Context,
    handoff: Any,
    now: datetime,
    expansion: str = "",
    oob: bool = False,
) -> SafeString:
    """One handoff of the queue: a <tbody> holding its row and the (hidden) row under it
    where the inline forms open. `expansion` is already-safe markup to show open there. With
    `oob` the row replaces its namesake on the page, out of band of the htmx target."""
    lead = handoff.lead
    pk = handoff.pk
    links = handoff_links(pk)
    status = sla_status(handoff=handoff, now=now)
    # The page's token, masked once for the whole page rather than once a row.
    csrf = str(context.get("csrf_token", ""))
    job = (
        f'<div class="small text-body-secondary">{escape(lead.job_title)}</div>'
        if lead.job_title
        else ""
    )
    campaign = (
        f'<span class="d-block small text-body-secondary">{escape(lead.campaign)}</span>'
        if lead.campaign
        else ""
    )
    source = escape(lead.source.name) if lead.source_id else "—"
    swap_oob = ' hx-swap-oob="true"' if oob else ""
    # Every value that comes from data is escaped above or in the lines below.
    return mark_safe(
        f'<tbody id="handoff-{pk}" class="queue-item" data-handoff="{pk}"'
        f"{swap_oob}>\n"
        f'<tr class="row-{status}{"" if handoff.is_open else " row-closed"}">\n'
        f'<td class="cell-title"><a href="{escape(links["packet"])}" class="fw-semibold'
        ' link-underline-opacity-0 link-underline-opacity-100-hover" data-role="open">'
        f"{escape(lead.display_name)}</a>{job}</td>\n"
        f'<td data-label="Company"><span>{escape(lead.company or "—")}</span></td>\n'
        f'<td data-label="Source"><span>{source}{campaign}</span></td>\n'
        '<td data-label="Score" class="text-end">'
        f'<span class="badge text-bg-light border fs-6">{int(lead.score)}</span></td>\n'
        '<td data-label="Stage"><span class="text-nowrap">'
        f"{escape(str(lead.get_stage_display()))} {_state_badge(handoff)}</span></td>\n"
        '<td data-label="Assigned" class="d-none d-md-table-cell">'
        f"{_time(handoff.assigned_at)}</td>\n"
        f'<td data-label="Due">{_time(handoff.due_at)}</td>\n'
        f'<td data-label="Time left">{_time_left(handoff, status, now)}</td>\n'
        f'<td class="cell-actions">{_actions(handoff, links, csrf, bool(expansion))}</td>\n'
        "</tr>\n"
        f'<tr class="queue-expand" id="expand-{pk}"{"" if expansion else " hidden"}>'
        f'<td colspan="{COLUMNS}"><div class="expand-slot" id="expand-slot-{pk}">'
        f"{conditional_html(expansion)}</div></td></tr>\n"
        "</tbody>"
    )


def conditional_html(markup: Any) -> str:
    """Markup passed in: kept as it is when it is already safe, escaped otherwise."""
    if hasattr(markup, "__html__"):
        return markup.__html__()
    return escape(str(markup)) if markup else ""


@functools.lru_cache(maxsize=16)
def _attempt_template(language: str | None) -> SafeString:
    from django.template.loader import render_to_string

    from handoff.forms import AttemptForm

    return render_to_string(
        "handoff/partials/attempt_inline.html",
        {"form": AttemptForm(), "action": "", "template": True},
    )


@register.simple_tag
def attempt_form_template() -> SafeString:
    """The inline attempt form the queue copies under a row. It holds nothing that varies by
    request or data (the channel and outcome choices are fixed, and htmx sends the CSRF token
    in a header), so it is drawn once per process and language."""
    return _attempt_template(get_language())
