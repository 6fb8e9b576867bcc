from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from feedback.selectors import (
    rejection_count,
    rejection_list_recent,
    rejections_by_campaign,
    rejections_by_reason,
    rejections_by_source,
)
from handoff import roles
from handoff.views import role_required

RECENT_LIMIT = 50


@role_required(roles.MARKETING, roles.MANAGER, roles.REVOPS)
def feedback_review(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "feedback/review.html",
        {
            "total": rejection_count(),
            "by_reason": rejections_by_reason(),
            "by_source": rejections_by_source(),
            "by_campaign": rejections_by_campaign(),
            "recent": rejection_list_recent(limit=RECENT_LIMIT),
            "recent_limit": RECENT_LIMIT,
        },
    )
