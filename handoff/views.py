"""Pages for reps and managers. Each view checks the role, binds input, calls one service and
renders or redirects; the rules live in handoff.services."""

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from handoff import roles, services
from handoff.errors import HandoffError, PermissionRefused, TransitionConflict
from handoff.forms import AttemptForm, RejectForm
from handoff.selectors import (
    escalations_for_manager,
    handoff_get_for_user,
    handoff_queue_for_user,
    team_handoffs_for_manager,
)


def role_required(*allowed: str) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:  # noqa: ANN002,ANN003
            if not roles.has_role(request.user, *allowed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


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
            "breached": sum(
                1 for handoff in handoffs if handoff.due_at <= now and not handoff.first_response_at
            ),
            "reject_form": RejectForm(),
            "attempt_form": AttemptForm(),
        },
    )


@role_required(roles.BDR, roles.MANAGER, roles.REVOPS)
def handoff_detail(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    return render(
        request,
        "handoff/detail.html",
        {
            "handoff": handoff,
            "lead": handoff.lead,
            "events": handoff.events.select_related("actor"),
            "lead_events": handoff.lead.events.select_related("actor"),
            "attempts": handoff.attempts.all(),
            "activities": handoff.lead.activities.all()[:50],
            "now": timezone.now(),
            "reject_form": RejectForm(),
            "attempt_form": AttemptForm(),
        },
    )


def _service_error_response(
    request: HttpRequest, error: HandoffError, handoff_id: int
) -> HttpResponse:
    if isinstance(error, PermissionRefused):
        raise PermissionDenied(str(error))
    messages.error(request, str(error))
    status = 409 if isinstance(error, TransitionConflict) else 400
    response = redirect("handoff-detail", handoff_id=handoff_id)
    if status == 409:
        # A conflict is reported as such to scripts and htmx; browsers follow the page.
        response = render(
            request,
            "handoff/conflict.html",
            {"message": str(error), "handoff_id": handoff_id},
            status=409,
        )
    return response


@require_POST
@role_required(roles.BDR, roles.MANAGER)
def handoff_accept_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    try:
        services.handoff_accept(handoff_id=handoff_id, actor=request.user)
    except HandoffError as error:
        return _service_error_response(request, error, handoff_id)
    messages.success(request, "Accepted. The lead is yours to work.")
    return redirect(request.POST.get("next") or "queue")


@require_POST
@role_required(roles.BDR, roles.MANAGER)
def handoff_reject_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    form = RejectForm(request.POST)
    if not form.is_valid():
        return render(
            request,
            "handoff/detail.html",
            {
                "handoff": handoff,
                "lead": handoff.lead,
                "events": handoff.events.select_related("actor"),
                "lead_events": handoff.lead.events.select_related("actor"),
                "attempts": handoff.attempts.all(),
                "activities": handoff.lead.activities.all()[:50],
                "now": timezone.now(),
                "reject_form": form,
                "attempt_form": AttemptForm(),
            },
            status=400,
        )
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


@require_POST
@role_required(roles.BDR, roles.MANAGER)
def handoff_attempt_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    form = AttemptForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a channel and an outcome for the attempt.")
        return redirect("handoff-detail", handoff_id=handoff_id)
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
    return redirect(request.POST.get("next") or "queue")


@role_required(roles.MANAGER, roles.REVOPS)
def manager_dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "handoff/manager.html",
        {
            "handoffs": team_handoffs_for_manager(user=request.user)[:200],
            "escalations": escalations_for_manager(user=request.user)[:100],
            "now": timezone.now(),
        },
    )


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    notifications = list(request.user.notifications.all()[:100])
    request.user.notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
    return render(request, "handoff/notifications.html", {"notifications": notifications})
