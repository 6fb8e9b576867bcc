"""Pages for reps and managers. Each view checks the role, binds input, calls one service and
renders or redirects; the rules live in handoff.services."""

from collections.abc import Callable
from datetime import datetime
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from handoff import roles, services
from handoff.errors import HandoffError, PermissionRefused, TransitionConflict
from handoff.forms import AttemptForm, RejectForm
from handoff.models import Handoff
from handoff.selectors import (
    escalations_for_manager,
    handoff_get_for_user,
    handoff_queue_for_user,
    team_handoffs_for_manager,
)
from handoff.templatetags.handoff_tags import sla_status

MANAGER_DASHBOARD_LIMIT = 200
ESCALATION_LIMIT = 100
ACTIVITY_LIMIT = 50
NOTIFICATION_LIMIT = 100


def role_required(*allowed: str) -> Callable:
    """Anonymous users go to the login page; signed-in users without the role get a 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:  # noqa: ANN002,ANN003
            if not roles.has_role(request.user, *allowed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _next_or(request: HttpRequest, default: str) -> str:
    """Where to go after a POST: the form's `next` when it is a page of this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _sla_counts(handoffs: list[Handoff], now: datetime) -> dict[str, int]:
    statuses = [sla_status(handoff=handoff, now=now) for handoff in handoffs]
    return {
        "breached": statuses.count("breached"),
        "due_soon": statuses.count("soon"),
        "total": len(handoffs),
    }


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if roles.has_role(user, roles.BDR) and hasattr(user, "rep"):
        return redirect("queue")
    if roles.has_role(user, roles.MANAGER):
        return redirect("manager-dashboard")
    if roles.has_role(user, roles.MARKETING):
        return redirect("feedback-review")
    if roles.has_role(user, roles.REVOPS) or user.is_staff:
        return redirect("admin:index")
    raise PermissionDenied


@role_required(roles.BDR, roles.MANAGER)
def queue(request: HttpRequest) -> HttpResponse:
    handoffs = list(handoff_queue_for_user(user=request.user))
    now = timezone.now()
    return render(
        request,
        "handoff/queue.html",
        {
            "handoffs": handoffs,
            "now": now,
            "counts": _sla_counts(handoffs, now),
            "reject_form": RejectForm(),
            "attempt_form": AttemptForm(),
        },
    )


def _detail_context(
    *,
    user: AbstractBaseUser,
    handoff: Handoff,
    reject_form: RejectForm | None = None,
    attempt_form: AttemptForm | None = None,
) -> dict:
    lead = handoff.lead
    return {
        "handoff": handoff,
        "lead": lead,
        "events": handoff.events.select_related("actor"),
        "lead_events": lead.events.select_related("actor"),
        "attempts": handoff.attempts.select_related("logged_by"),
        "activities": lead.activities.all()[:ACTIVITY_LIMIT],
        "fit_entries": [e for e in lead.score_breakdown if e.get("category") == "fit"],
        "behaviour_entries": [e for e in lead.score_breakdown if e.get("category") != "fit"],
        "now": timezone.now(),
        # The forms show only to those the services would let act: the rep who holds the
        # handoff and that rep's managers. RevOps can read the packet here and act in the admin.
        "can_act": handoff.is_open
        and roles.has_role(user, roles.BDR, roles.MANAGER)
        and services.actor_may_act(handoff=handoff, actor=user),
        "reject_form": reject_form or RejectForm(),
        "attempt_form": attempt_form or AttemptForm(),
    }


@role_required(roles.BDR, roles.MANAGER, roles.REVOPS)
def handoff_detail(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    return render(
        request, "handoff/detail.html", _detail_context(user=request.user, handoff=handoff)
    )


def _service_error_response(
    request: HttpRequest, error: HandoffError, handoff_id: int
) -> HttpResponse:
    if isinstance(error, PermissionRefused):
        raise PermissionDenied(str(error))
    if isinstance(error, TransitionConflict):
        # A conflict is reported as such to scripts; people get a page that says what to do.
        return render(
            request,
            "handoff/conflict.html",
            {"message": str(error), "handoff_id": handoff_id},
            status=409,
        )
    messages.error(request, str(error))
    return redirect("handoff-detail", handoff_id=handoff_id)


# The role check comes before the method check so that anonymous visitors are always sent to
# the login page, whatever the method.
@role_required(roles.BDR, roles.MANAGER)
@require_POST
def handoff_accept_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    try:
        services.handoff_accept(handoff_id=handoff_id, actor=request.user)
    except HandoffError as error:
        return _service_error_response(request, error, handoff_id)
    messages.success(request, "Accepted. The lead is yours to work.")
    return redirect(_next_or(request, "queue"))


@role_required(roles.BDR, roles.MANAGER)
@require_POST
def handoff_reject_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    form = RejectForm(request.POST)
    if not form.is_valid():
        context = _detail_context(user=request.user, handoff=handoff, reject_form=form)
        return render(request, "handoff/detail.html", context, status=400)
    try:
        services.handoff_reject(
            handoff_id=handoff_id,
            actor=request.user,
            reason_code=form.cleaned_data["reason"].code,
            note=form.cleaned_data["note"],
        )
    except HandoffError as error:
        return _service_error_response(request, error, handoff_id)
    messages.success(request, "Rejected. Marketing will see your reason and note.")
    return redirect("queue")


@role_required(roles.BDR, roles.MANAGER)
@require_POST
def handoff_attempt_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    form = AttemptForm(request.POST)
    if not form.is_valid():
        context = _detail_context(user=request.user, handoff=handoff, attempt_form=form)
        return render(request, "handoff/detail.html", context, status=400)
    try:
        services.handoff_log_attempt(
            handoff_id=handoff_id,
            actor=request.user,
            channel=form.cleaned_data["channel"],
            outcome=form.cleaned_data["outcome"],
            note=form.cleaned_data["note"],
        )
    except HandoffError as error:
        return _service_error_response(request, error, handoff_id)
    messages.success(request, "Attempt logged.")
    return redirect(_next_or(request, "queue"))


@role_required(roles.MANAGER, roles.REVOPS)
def manager_dashboard(request: HttpRequest) -> HttpResponse:
    handoffs = list(team_handoffs_for_manager(user=request.user)[:MANAGER_DASHBOARD_LIMIT])
    now = timezone.now()
    return render(
        request,
        "handoff/manager.html",
        {
            "handoffs": handoffs,
            "counts": _sla_counts(handoffs, now),
            "limit": MANAGER_DASHBOARD_LIMIT,
            "escalations": escalations_for_manager(user=request.user)[:ESCALATION_LIMIT],
            "now": now,
        },
    )


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    notifications = list(request.user.notifications.all()[:NOTIFICATION_LIMIT])
    # Reading the page is what marks them read; the list above still shows which were new.
    request.user.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
    return render(request, "handoff/notifications.html", {"notifications": notifications})
