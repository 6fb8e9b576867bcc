from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from feedback.selectors import rejection_list_recent, rejections_by_reason, rejections_by_source
from handoff import roles
from handoff.views import role_required


@role_required(roles.MARKETING, roles.MANAGER, roles.REVOPS)
def feedback_review(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "feedback/review.html",
        {
            "by_reason": rejections_by_reason(),
            "by_source": rejections_by_source(),
            "recent": rejection_list_recent(),
        },
    )
