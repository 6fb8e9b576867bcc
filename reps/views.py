"""Admin pages for RevOps: the routing simulator and the capacity report. The admin site wraps
them (staff only) and each checks the model permission of the admin it belongs to."""

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from reps.forms import CapacityReportForm, RoutingSimulationForm
from reps.selectors import mql_volume_projection, rep_capacity_by_week, routing_simulate

DEFAULT_REPORT_WEEKS = 4


def routing_simulator(request: HttpRequest, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    # A GET form: simulating changes nothing, and the address can be shared.
    form = RoutingSimulationForm(request.GET or None)
    simulation = None
    if form.is_valid():
        simulation = routing_simulate(lead=form.lead(), now=form.when())
    return render(
        request,
        "admin/reps/routing_simulator.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": "Routing simulator",
            "form": form,
            "simulation": simulation,
        },
    )


def capacity_report(request: HttpRequest, *, model_admin: admin.ModelAdmin) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form = CapacityReportForm(request.GET or None)
    weeks = (form.is_valid() and form.cleaned_data["weeks"]) or DEFAULT_REPORT_WEEKS
    now = timezone.now()
    rows = rep_capacity_by_week(now=now, weeks=weeks)
    return render(
        request,
        "admin/reps/capacity_report.html",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": "Capacity report",
            "form": form,
            "rows": rows,
            "week_labels": [week.week for week in rows[0].weeks] if rows else [],
            "projection": mql_volume_projection(now=now),
            "site_timezone": settings.TIME_ZONE,
        },
    )
