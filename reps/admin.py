from collections.abc import Callable

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from reps import views
from reps.models import Absence, CompanyDayOff, Rep, RoutingRule, Team, WorkingPeriod


def admin_page(model_admin: admin.ModelAdmin, view: Callable) -> Callable:
    """A page of the model admin's own: staff only, through the admin site, with the model
    admin passed on so that the view can check its permission and build the admin context."""

    def page(request: HttpRequest) -> HttpResponse:
        return view(request, model_admin=model_admin)

    return model_admin.admin_site.admin_view(page)


class WorkingPeriodInline(admin.TabularInline):
    model = WorkingPeriod
    extra = 0
    fields = ["weekday", "start", "end"]


class AbsenceInline(admin.TabularInline):
    model = Absence
    extra = 0
    fields = ["starts_at", "ends_at", "note"]


@admin.register(Rep)
class RepAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "team",
        "timezone",
        "holiday_country",
        "weekly_capacity",
        "active",
        "last_assigned_at",
    ]
    list_filter = ["active", "team", "timezone"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    list_select_related = ["user", "team"]
    raw_id_fields = ["user", "manager"]
    fieldsets = [
        (None, {"fields": ["user", "team", "manager", "active", "weekly_capacity"]}),
        ("Calendar", {"fields": ["timezone", "holiday_country", "holiday_subdivision"]}),
        ("Alerts", {"fields": ["slack_webhook_url"]}),
        # Routing state is written only by the round robin; shown so RevOps can see the split.
        ("Routing", {"fields": ["routing_credit", "last_assigned_at"]}),
    ]
    readonly_fields = ["routing_credit", "last_assigned_at"]
    inlines = [WorkingPeriodInline, AbsenceInline]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "capacity/",
                admin_page(self, views.capacity_report),
                name="reps_rep_capacity",
            ),
            *super().get_urls(),
        ]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager"]
    search_fields = ["name"]
    raw_id_fields = ["manager"]
    fields = ["name", "manager", "slack_webhook_url"]


@admin.register(CompanyDayOff)
class CompanyDayOffAdmin(admin.ModelAdmin):
    list_display = ["day", "name"]
    date_hierarchy = "day"


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "active", "team", "countries", "industries", "min_score"]
    list_editable = ["position", "active"]
    list_filter = ["active", "team"]
    filter_horizontal = ["sources", "reps"]
    fieldsets = [
        (None, {"fields": ["name", "position", "active"]}),
        (
            "When the lead matches (empty fields match anything)",
            {
                "fields": [
                    "countries",
                    "industries",
                    "sources",
                    ("min_company_size", "max_company_size"),
                    "min_score",
                ]
            },
        ),
        ("Route to", {"fields": ["team", "reps"]}),
    ]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "simulate/",
                admin_page(self, views.routing_simulator),
                name="reps_routingrule_simulate",
            ),
            *super().get_urls(),
        ]
