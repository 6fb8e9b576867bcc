"""The living protocol: read by every role, exported as Markdown, reviewed by RevOps."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from handoff import roles
from handoff.errors import HandoffError
from handoff.forms import QuarterlyReviewForm
from handoff.protocol import protocol_build, quarterly_review_record
from handoff.views.common import role_required


def _page(request: HttpRequest, *, form: QuarterlyReviewForm | None = None, status: int = 200):  # noqa: ANN202
    can_review = roles.has_role(request.user, roles.REVOPS)
    return render(
        request,
        "handoff/protocol.html",
        {
            "protocol": protocol_build(),
            "can_review": can_review,
            "review_form": form or (QuarterlyReviewForm() if can_review else None),
        },
        status=status,
    )


@role_required(*roles.ALL_ROLES)
def protocol_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@role_required(*roles.ALL_ROLES)
def protocol_markdown(request: HttpRequest) -> HttpResponse:
    protocol = protocol_build()
    text = render_to_string("handoff/protocol.md", {"protocol": protocol}, request=request)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    filename = f"handoff-protocol-{protocol.now:%Y-%m-%d}.md"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@role_required(roles.REVOPS)
@require_POST
def protocol_review_view(request: HttpRequest) -> HttpResponse:
    form = QuarterlyReviewForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        review = quarterly_review_record(
            actor=request.user, decisions=form.cleaned_data["decisions"]
        )
    except HandoffError as error:
        form.add_error(None, str(error))
        return _page(request, form=form, status=400)
    messages.success(
        request, f"Review of the quarter starting {review.quarter_start:%-d %B %Y} recorded."
    )
    return redirect("protocol")
