"""Marketing's review of rejections: rates by week and by source, campaign, reason and score
band, the rejected leads behind each figure, the CSV of the review, and recycling a rejected
lead to nurture."""

import csv
from datetime import date
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from feedback.selectors import (
    DIMENSIONS,
    NONE_KEY,
    SCORE_BAND_LABELS,
    Review,
    iso_week_label,
    rejection_list,
    rejection_review,
)
from feedback.services import lead_recycle
from handoff import roles
from handoff.errors import HandoffError, PermissionRefused
from handoff.filters import RejectionFilter
from handoff.views.common import next_or, role_required
from leads.models import Lead, Source
from leads.resources import neutralise_formula

READERS = (roles.MARKETING, roles.MANAGER, roles.REVOPS)
CHART_GROUPS = 8
DRILLDOWN_PAGE_SIZE = 50


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(100 * rate, 1)


def _chart_data(review: Review, by: str) -> dict:
    """What the charts draw: the weekly rejection rate of all handoffs (a week with nothing
    ended has no rate, and leaves a gap), and the rate over the whole period of the groups of
    the chosen dimension with the most rejections."""
    return {
        "weeks": review.week_labels,
        "overall": [_percent(cell.rate) for cell in review.overall],
        "rejected": [cell.rejected for cell in review.overall],
        "ended": [cell.ended for cell in review.overall],
        "groups": [
            {
                "label": row.label,
                "rate": _percent(row.total.rate),
                "rejected": row.total.rejected,
                "ended": row.total.ended,
            }
            for row in review.tables[by][:CHART_GROUPS]
        ],
    }


def _table(review: Review, by: str) -> list[dict]:
    """The rows of the review's table: the all-weeks cell first, then one per week, each with
    the link to its rejected leads when it has any to list."""
    base = reverse("feedback-rejections")

    def link(key: str, monday: date | None = None) -> str:
        params = {by: key, **({"week": monday.isoformat()} if monday else {})}
        return f"{base}?{urlencode(params)}"

    rows = []
    for row in review.tables[by]:
        # Handoffs returned without a rejection row have no reason to filter on.
        linkable = not (by == "reason" and row.key == NONE_KEY)
        cells = [
            {
                "cell": row.total,
                "week": f"all {len(review.weeks)} weeks",
                "url": link(row.key) if linkable and row.total.rejected else "",
            }
        ]
        cells += [
            {
                "cell": cell,
                "week": label,
                "url": link(row.key, monday) if linkable and cell.rejected else "",
            }
            for cell, monday, label in zip(row.cells, review.weeks, review.week_labels, strict=True)
        ]
        rows.append({"key": row.key, "label": row.label, "cells": cells})
    return rows


@role_required(*READERS)
def feedback_review(request: HttpRequest) -> HttpResponse:
    by = request.GET.get("by", "source")
    if by not in DIMENSIONS:
        by = "source"
    review = rejection_review(now=timezone.now())
    return render(
        request,
        "feedback/review.html",
        {
            "review": review,
            "by": by,
            "by_label": DIMENSIONS[by],
            "dimensions": DIMENSIONS,
            "rows": _table(review, by),
            "weeks": list(zip(review.weeks, review.week_labels, strict=True)),
            "chart_data": _chart_data(review, by),
            "can_recycle": roles.has_role(request.user, roles.MARKETING),
        },
    )


def _cell_description(filters: RejectionFilter) -> list[str]:
    """The filters of a drill-down in words, for its heading."""
    if not filters.is_valid():
        return []
    data = filters.form.cleaned_data
    words = []
    if data.get("source"):
        if data["source"] == NONE_KEY:
            words.append("no source")
        else:
            source = (
                Source.objects.filter(pk=data["source"]).first()
                if data["source"].isdigit()
                else None
            )
            words.append(f"source {source.name if source else 'unknown'}")
    if data.get("campaign"):
        words.append(
            "no campaign" if data["campaign"] == NONE_KEY else f"campaign {data['campaign']}"
        )
    if data.get("reason"):
        words.append(f"reason {data['reason'].label}")
    if data.get("band"):
        words.append(f"score {SCORE_BAND_LABELS[data['band']].lower()}")
    if data.get("week"):
        words.append(f"week {iso_week_label(data['week'])}")
    return words


@role_required(*READERS)
def rejection_drilldown(request: HttpRequest) -> HttpResponse:
    filters = RejectionFilter(request.GET or None, queryset=rejection_list())
    paginator = Paginator(filters.results(), DRILLDOWN_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "feedback/rejections.html",
        {
            "filters": filters,
            "page": page,
            "description": _cell_description(filters),
            "query": params.urlencode(),
            "can_recycle": roles.has_role(request.user, roles.MARKETING),
        },
    )


CSV_HEADER = ["dimension", "group", "week", "week_start", "ended", "rejected", "rejection_rate"]


@role_required(*READERS)
def feedback_review_csv(request: HttpRequest) -> HttpResponse:
    """The review's rows, one per group and week. Group names come from campaign and source
    names that anyone can type, so a cell a spreadsheet would run as a formula is prefixed
    with an apostrophe."""
    now = timezone.now()
    review = rejection_review(now=now)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="rejection-review-{now:%Y-%m-%d}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for index, (monday, label) in enumerate(zip(review.weeks, review.week_labels, strict=True)):
        cell = review.overall[index]
        writer.writerow(["all", "All handoffs", label, monday.isoformat(), *_figures(cell)])
    for dimension in DIMENSIONS:
        for row in review.tables[dimension]:
            for index, (monday, label) in enumerate(
                zip(review.weeks, review.week_labels, strict=True)
            ):
                cell = row.cells[index]
                writer.writerow(
                    [
                        dimension,
                        neutralise_formula(row.label),
                        label,
                        monday.isoformat(),
                        *_figures(cell),
                    ]
                )
    return response


def _figures(cell) -> list:  # noqa: ANN001
    return [cell.ended, cell.rejected, "" if cell.rate is None else f"{cell.rate:.4f}"]


@role_required(roles.MARKETING)
@require_POST
def lead_recycle_view(request: HttpRequest, lead_id: int) -> HttpResponse:
    lead = get_object_or_404(Lead, pk=lead_id)
    back = next_or(request, reverse("feedback-rejections"))
    try:
        lead_recycle(lead_id=lead.pk, actor=request.user)
    except PermissionRefused as error:
        raise PermissionDenied(str(error)) from error
    except HandoffError as error:
        return render(
            request, "feedback/refused.html", {"message": str(error), "back": back}, status=400
        )
    messages.success(
        request,
        f"{lead.display_name} is back in nurture: new engagement can make it an MQL again.",
    )
    return redirect(back)
