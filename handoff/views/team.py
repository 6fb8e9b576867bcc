"""The manager's view of the team: its queue, escalations, each rep's load and SLA record."""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from handoff import roles
from handoff.filters import QueueFilter
from handoff.forms import ReassignForm
from handoff.metrics import sla_compliance
from handoff.selectors import (
    escalations_for_manager,
    handoff_queue_counts,
    handoff_queue_page,
    rep_open_counts,
    reps_for_manager,
    team_handoffs_for_manager,
)
from handoff.views.common import role_required
from handoff.views.queue import cursor_from
from reps.selectors import rep_assigned_this_week

TEAM_PAGE_SIZE = 30
ESCALATION_LIMIT = 50
COMPLIANCE_DAYS = 30
NOTIFICATION_LIMIT = 100


@role_required(roles.MANAGER, roles.REVOPS)
def manager_dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    now = timezone.now()
    base = team_handoffs_for_manager(user=user)
    filters = QueueFilter(request.GET or None, queryset=base, now=now)
    after = cursor_from(request)
    page = handoff_queue_page(handoffs=filters.results(), after=after, size=TEAM_PAGE_SIZE)
    more_url = ""
    if page.next_cursor is not None:
        params = request.GET.copy()
        params["after"] = page.next_cursor.encode()
        more_url = f"{reverse('manager-dashboard')}?{params.urlencode()}"

    reps = list(reps_for_manager(user=user))
    assigned = rep_assigned_this_week(reps=reps, now=now)
    open_counts = rep_open_counts(rep_ids=[rep.pk for rep in reps])
    # The metrics group reps by username, which is unique.
    compliance = {
        row.label: row
        for row in sla_compliance(
            now=now, since=now - timedelta(days=COMPLIANCE_DAYS), group_by="rep"
        )
    }
    load = [
        {
            "rep": rep,
            "assigned": assigned.get(rep.pk, 0),
            "open": open_counts.get(rep.pk, 0),
            "compliance": compliance.get(rep.user.get_username()),
        }
        for rep in reps
    ]
    return render(
        request,
        "handoff/manager.html",
        {
            "page": page,
            "handoffs": page.handoffs,
            "filters": filters,
            "more_url": more_url,
            "is_first_page": after is None,
            "counts": handoff_queue_counts(handoffs=base, now=now),
            "escalations": escalations_for_manager(user=user)[:ESCALATION_LIMIT],
            "load": load,
            "compliance_days": COMPLIANCE_DAYS,
            "reassign_form": ReassignForm(reps=reps_for_manager(user=user)),
            "now": now,
        },
    )


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    notifications = list(request.user.notifications.all()[:NOTIFICATION_LIMIT])
    # Reading the page is what marks them read; the list above still shows which were new.
    request.user.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
    return render(request, "handoff/notifications.html", {"notifications": notifications})
