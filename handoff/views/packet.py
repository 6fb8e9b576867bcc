"""The handoff packet: everything the next person needs about a lead, and the work on it
(BANT, pain and context, qualification to SQL, the hand-over to an account executive, and a
manager's reassignment)."""

import copy

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from handoff import roles, services
from handoff.errors import HandoffError, TransitionConflict, TransitionRefused
from handoff.forms import (
    AttemptForm,
    BantForm,
    ContextForm,
    OpportunityForm,
    ReassignForm,
    RejectForm,
)
from handoff.models import Handoff, HandoffPoint, HandoffState
from handoff.selectors import (
    handoff_get_for_reader,
    handoff_get_for_user,
    handoff_history,
    reps_for_manager,
    required_field_checklist,
    sql_checklist,
)
from handoff.views.common import next_or, render_fragments, role_required
from handoff.views.errors import service_error_response
from handoff.views.queue import row_removed_response
from leads.models import Stage
from leads.selectors import lead_details_for_packet

ACTIVITY_LIMIT = 50


def _reassign_reps(*, user: AbstractBaseUser, handoff: Handoff):  # noqa: ANN202
    return reps_for_manager(user=user).exclude(pk=handoff.rep_id)


def detail_context(
    *,
    request: HttpRequest,
    handoff: Handoff,
    reject_form: RejectForm | None = None,
    attempt_form: AttemptForm | None = None,
    bant_form: BantForm | None = None,
    context_form: ContextForm | None = None,
    opportunity_form: OpportunityForm | None = None,
    reassign_form: ReassignForm | None = None,
    error: str = "",
    qualify_error: str = "",
) -> dict:
    user = request.user
    lead = handoff.lead
    works_leads = roles.has_role(user, roles.BDR, roles.MANAGER)
    may_act = services.actor_may_act(handoff=handoff, actor=user)
    can_act = handoff.is_open and works_leads and may_act
    # Managers and RevOps may hand a lead to another rep, but not a rep their own lead.
    can_reassign = (
        handoff.is_open
        and roles.has_role(user, roles.MANAGER, roles.REVOPS)
        and may_act
        and handoff.rep.user_id != user.pk
    )
    can_hand_over = (
        works_leads
        and may_act
        and handoff.state == HandoffState.QUALIFIED
        and lead.stage == Stage.SQL
    )
    return {
        "handoff": handoff,
        "lead": lead,
        "history": handoff_history(lead_id=lead.pk),
        "attempts": handoff.attempts.select_related("logged_by"),
        "activities": lead.activities.all()[:ACTIVITY_LIMIT],
        "lead_details": lead_details_for_packet(lead=lead),
        "fit_entries": [e for e in lead.score_breakdown if e.get("category") == "fit"],
        "behaviour_entries": [e for e in lead.score_breakdown if e.get("category") != "fit"],
        "now": timezone.now(),
        # The forms show only to those the services would let act: the rep who holds the
        # handoff and that rep's managers. RevOps reads the packet here and acts in the admin.
        "can_act": can_act,
        "can_document": can_act or can_hand_over,
        # Accepting and logging contact are the holder's own acts (see the services).
        "is_holder": handoff.rep.user_id == user.pk,
        "can_reassign": can_reassign,
        "can_hand_over": can_hand_over,
        "sql_checklist": sql_checklist(handoff=handoff),
        "ae_checklist": required_field_checklist(
            lead=lead, point=HandoffPoint.TO_ACCOUNT_EXECUTIVE
        ),
        "reject_form": reject_form or RejectForm(),
        "attempt_form": attempt_form or AttemptForm(),
        "bant_form": bant_form or BantForm(instance=lead),
        "context_form": context_form or ContextForm(instance=lead),
        "opportunity_form": opportunity_form or (OpportunityForm() if can_hand_over else None),
        "reassign_form": reassign_form
        or (
            ReassignForm(reps=_reassign_reps(user=user, handoff=handoff)) if can_reassign else None
        ),
        "error": error,
        "qualify_error": qualify_error,
    }


@role_required(roles.BDR, roles.MANAGER, roles.REVOPS, roles.ACCOUNT_EXECUTIVE)
def handoff_detail(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = handoff_get_for_reader(handoff_id=handoff_id, user=request.user)
    return render(request, "handoff/detail.html", detail_context(request=request, handoff=handoff))


def _panel(request: HttpRequest, handoff: Handoff, **extra) -> tuple[str, dict]:  # noqa: ANN003
    context = {
        "handoff": handoff,
        "lead": handoff.lead,
        "bant_form": BantForm(instance=handoff.lead),
        "sql_checklist": sql_checklist(handoff=handoff),
        **extra,
    }
    return ("handoff/partials/bant_panel.html", context)


def _unsaved_bant(request: HttpRequest, handoff: Handoff) -> BantForm | None:
    """The BANT form as posted with a qualify request, when it differs from what is saved."""
    if not any(name in request.POST for name in BantForm.Meta.fields):
        return None
    # A copy, so that binding the form does not change the lead the checklist reads.
    form = BantForm(request.POST, instance=copy.copy(handoff.lead))
    return form if form.has_changed() else None


@role_required(roles.BDR, roles.MANAGER)
@require_http_methods(["GET", "POST"])
def handoff_bant_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """GET: the BANT panel the queue opens under a row (the packet without JavaScript).
    POST: save what the rep learned."""
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    packet = f"{reverse('handoff-detail', args=[handoff_id])}#bant"
    if request.method == "GET":
        if request.htmx:
            return render_fragments(request, [_panel(request, handoff)])
        return redirect(packet)
    form = BantForm(request.POST, instance=handoff.lead)
    if not form.is_valid():
        if request.htmx:
            return render_fragments(request, [_panel(request, handoff, bant_form=form)], status=400)
        context = detail_context(request=request, handoff=handoff, bant_form=form)
        return render(request, "handoff/detail.html", context, status=400)
    try:
        services.lead_bant_update(
            handoff_id=handoff_id,
            actor=request.user,
            bant={name: form.cleaned_data[name] for name in form.fields},
        )
    except HandoffError as error:
        return service_error_response(request, error, handoff_id)
    messages.success(request, "BANT saved.")
    if request.htmx:
        handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
        return render_fragments(request, [_panel(request, handoff, saved=True)])
    return redirect(next_or(request, packet))


@role_required(roles.BDR, roles.MANAGER)
@require_POST
def handoff_context_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    form = ContextForm(request.POST, instance=handoff.lead)
    if not form.is_valid():
        context = detail_context(request=request, handoff=handoff, context_form=form)
        return render(request, "handoff/detail.html", context, status=400)
    try:
        services.lead_bant_update(
            handoff_id=handoff_id,
            actor=request.user,
            bant={name: form.cleaned_data[name] for name in form.fields},
        )
    except HandoffError as error:
        return service_error_response(request, error, handoff_id)
    messages.success(request, "Pain and context saved.")
    return redirect(f"{reverse('handoff-detail', args=[handoff_id])}#pain")


@role_required(roles.BDR, roles.MANAGER)
@require_POST
def handoff_qualify_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    try:
        services.handoff_qualify(handoff_id=handoff_id, actor=request.user)
    except TransitionRefused as error:
        # Refused with what is missing; the rep reads the list beside the button, and gets
        # back the BANT they typed but had not saved, still unsaved.
        unsaved = _unsaved_bant(request, handoff)
        if request.htmx:
            extra = {"bant_form": unsaved, "bant_unsaved": True} if unsaved else {}
            fragment = _panel(request, handoff, qualify_error=str(error), **extra)
            return render_fragments(request, [fragment], status=400)
        context = detail_context(
            request=request, handoff=handoff, qualify_error=str(error), bant_form=unsaved
        )
        context["bant_unsaved"] = unsaved is not None
        return render(request, "handoff/detail.html", context, status=400)
    except HandoffError as error:
        if isinstance(error, TransitionConflict) and request.htmx:
            messages.warning(request, str(error))
            return row_removed_response(request, handoff_id)
        return service_error_response(request, error, handoff_id)
    messages.success(
        request,
        f"{handoff.lead.display_name} is now an SQL. Hand it to an account executive from "
        "its packet.",
    )
    if request.htmx:
        return row_removed_response(request, handoff_id)
    return redirect(f"{reverse('handoff-detail', args=[handoff_id])}#hand-over")


@role_required(roles.BDR, roles.MANAGER)
@require_POST
def handoff_opportunity_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    form = OpportunityForm(request.POST)
    if not form.is_valid():
        context = detail_context(request=request, handoff=handoff, opportunity_form=form)
        return render(request, "handoff/detail.html", context, status=400)
    try:
        services.lead_open_opportunity(
            lead_id=handoff.lead_id,
            actor=request.user,
            account_executive_id=form.cleaned_data["account_executive"].pk,
        )
    except HandoffError as error:
        return service_error_response(request, error, handoff_id)
    executive = form.cleaned_data["account_executive"]
    messages.success(
        request,
        f"Handed to {executive.get_full_name() or executive.get_username()} as an opportunity.",
    )
    return redirect("handoff-detail", handoff_id=handoff_id)


@role_required(roles.MANAGER, roles.REVOPS)
@require_POST
def handoff_reassign_view(request: HttpRequest, handoff_id: int) -> HttpResponse:
    handoff = handoff_get_for_user(handoff_id=handoff_id, user=request.user)
    form = ReassignForm(request.POST, reps=_reassign_reps(user=request.user, handoff=handoff))
    if not form.is_valid():
        context = detail_context(request=request, handoff=handoff, reassign_form=form)
        return render(request, "handoff/detail.html", context, status=400)
    to_rep = form.cleaned_data["to_rep"]
    try:
        new = services.handoff_reassign(
            handoff_id=handoff_id,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            to_rep_id=to_rep.pk if to_rep else None,
        )
    except HandoffError as error:
        return service_error_response(request, error, handoff_id)
    messages.success(request, f"Reassigned to {new.rep} with a fresh deadline.")
    return redirect(next_or(request, reverse("manager-dashboard")))
