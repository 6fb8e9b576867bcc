"""The rep's work queue and the one-click actions on its rows.

Every action is a plain form POST that redirects, so the queue works without JavaScript. With
htmx the same POST answers with the updated row (or the dialog's form when it has errors) and
out-of-band updates of the counters and messages, and the page stays where it was.
"""

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from handoff import roles, services
from handoff.errors import HandoffError, TransitionConflict
from handoff.filters import QueueFilter
from handoff.forms import AttemptForm, RejectForm
from handoff.models import Handoff
from handoff.selectors import (
    QueueCursor,
    handoff_get_for_user,
    handoff_queue_counts,
    handoff_queue_for_rep,
    handoff_queue_page,
)
from handoff.views.common import next_or, render_fragments, role_required, vary_on_htmx
from handoff.views.errors import service_error_response

# htmx targets the queue page asks for: the filtered results, or the next page of rows.
RESULTS_TARGET = "queue-results"
ROWS_TARGET = "queue-table"


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
    if roles.has_role(user, roles.ACCOUNT_EXECUTIVE):
        # Account executives hear of new opportunities there, with links to the packets.
        return redirect("notifications")
    raise PermissionDenied


def cursor_from(request: HttpRequest) -> QueueCursor | None:
    text = request.GET.get("after", "")
    if not text:
        return None
    try:
        return QueueCursor.decode(text)
    except ValueError:
        # A mangled link starts the queue from the top rather than failing.
        return None


def _queue_of(user: AbstractBaseUser) -> QuerySet[Handoff]:
    # The rep row is the one the page's timezone reads, so this costs no query of its own.
    try:
        rep_id = user.rep.pk
    except ObjectDoesNotExist:
        rep_id = None
    return handoff_queue_for_rep(rep_id=rep_id)


def queue_counts(*, user: AbstractBaseUser, now: datetime) -> dict[str, int]:
    return handoff_queue_counts(handoffs=_queue_of(user), now=now)


@role_required(roles.BDR, roles.MANAGER)
def queue(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    base = _queue_of(request.user)
    filters = QueueFilter(request.GET or None, queryset=base, now=now)
    after = cursor_from(request)
    page = handoff_queue_page(handoffs=filters.results(), after=after)
    params = request.GET.copy()
    params.pop("after", None)
    filter_query = params.urlencode()
    more_url = ""
    if page.next_cursor is not None:
        params["after"] = page.next_cursor.encode()
        more_url = f"{reverse('queue')}?{params.urlencode()}"
    context = {
        "page": page,
        "handoffs": page.handoffs,
        "filters": filters,
        "filter_query": filter_query,
        "more_url": more_url,
        "is_first_page": after is None,
        "now": now,
        "reject_form": RejectForm(),
    }
    target = request.htmx.target if request.htmx else None
    if target == ROWS_TARGET:
        return render_fragments(request, [("handoff/partials/queue_more.html", context)])
    if target == RESULTS_TARGET:
        return render_fragments(request, [("handoff/partials/queue_results.html", context)])
    context["counts"] = handoff_queue_counts(handoffs=base, now=now)
    return vary_on_htmx(render(request, "handoff/queue.html", context))


def row_response(
    request: HttpRequest,
    handoff_id: int,
    *,
    status: int = 200,
    first: tuple[str, dict] | None = None,
) -> HttpResponse:
    """The row as it is now, and the counters, for an htmx action on the queue. With `first`
    (a dialog's form, say) that goes to the request's target and the row out of band."""
    now = timezone.now()
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    row = ("handoff/partials/queue_row.html", {"handoff": handoff, "now": now, "oob": bool(first)})
    return render_fragments(
        request,
        [
            *([first] if first else []),
            row,
            ("handoff/partials/queue_counters.html", _counters_context(request, now)),
        ],
        status=status,
    )


def row_removed_response(
    request: HttpRequest, handoff_id: int, *, first: tuple[str, dict] | None = None
) -> HttpResponse:
    """For an htmx action after which the handoff leaves the queue: removes its row."""
    now = timezone.now()
    fragments = [first] if first else [("handoff/partials/empty.html", {})]
    fragments += [
        ("handoff/partials/queue_row_removed.html", {"handoff_id": handoff_id}),
        ("handoff/partials/queue_counters.html", _counters_context(request, now)),
    ]
    return render_fragments(request, fragments)


def _counters_context(request: HttpRequest, now: datetime) -> dict:
    return {"counts": queue_counts(user=request.user, now=now), "oob": True}


# The role check comes before the method check so that anonymous visitors are always sent to
# the login page, whatever the method.
@role_required(roles.BDR, roles.MANAGER)
@require_POST
def handoff_accept_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    try:
        services.handoff_accept(handoff_id=handoff_id, actor=request.user)
    except HandoffError as error:
        return service_error_response(request, error, handoff_id)
    messages.success(request, "Accepted. The lead is yours to work.")
    if request.htmx:
        return row_response(request, handoff_id)
    return redirect(next_or(request, reverse("queue")))


def _reject_form_fragment(form: RejectForm, handoff: Handoff) -> tuple[str, dict]:
    return (
        "handoff/partials/reject_form.html",
        {
            "reject_form": form,
            "action": reverse("handoff-reject", args=[handoff.pk]),
            "lead_name": handoff.lead.display_name,
        },
    )


@role_required(roles.BDR, roles.MANAGER)
@require_POST
def handoff_reject_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    from handoff.views.packet import detail_context

    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    form = RejectForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            return render_fragments(request, [_reject_form_fragment(form, handoff)], status=400)
        context = detail_context(request=request, handoff=handoff, reject_form=form)
        return render(request, "handoff/detail.html", context, status=400)
    try:
        services.handoff_reject(
            handoff_id=handoff_id,
            actor=request.user,
            reason_code=form.cleaned_data["reason"].code,
            note=form.cleaned_data["note"],
        )
    except HandoffError as error:
        if request.htmx and isinstance(error, TransitionConflict):
            # The dialog gets a fresh form for its next use and closes; the row shows what the
            # other change did, and the message says why nothing was rejected.
            messages.warning(request, str(error))
            response = row_response(
                request,
                handoff_id,
                status=409,
                first=_reject_form_fragment(RejectForm(), handoff),
            )
            response["HX-Trigger"] = "handoff-dialog-done"
            return response
        return service_error_response(request, error, handoff_id)
    messages.success(request, "Rejected. Marketing will see your reason and note.")
    if request.htmx:
        response = row_removed_response(
            request, handoff_id, first=_reject_form_fragment(RejectForm(), handoff)
        )
        response["HX-Trigger"] = "handoff-dialog-done"
        return response
    return redirect("queue")


@role_required(roles.BDR, roles.MANAGER)
@require_POST
def handoff_attempt_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    from handoff.views.packet import detail_context

    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    form = AttemptForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            # The row comes back open, with the form and its errors in place.
            form = AttemptForm(request.POST, auto_id=f"attempt_{handoff_id}_%s")
            form.is_valid()
            expansion = render_to_string(
                "handoff/partials/attempt_inline.html",
                {"form": form, "action": reverse("handoff-attempt", args=[handoff_id])},
                request=request,
            )
            context = {"handoff": handoff, "now": timezone.now(), "row_expansion": expansion}
            return render_fragments(
                request, [("handoff/partials/queue_row.html", context)], status=400
            )
        context = detail_context(request=request, handoff=handoff, attempt_form=form)
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
        return service_error_response(request, error, handoff_id)
    messages.success(request, "Attempt logged.")
    if request.htmx:
        return row_response(request, handoff_id)
    return redirect(next_or(request, reverse("queue")))
