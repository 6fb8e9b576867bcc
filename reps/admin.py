from django.contrib import admin

from reps.models import Absence, CompanyDayOff, Rep, RoutingRule, Team, WorkingPeriod


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
        # Routing state is written only by the round robin; shown so RevOps can see the split.
        ("Routing", {"fields": ["routing_credit", "last_assigned_at"]}),
    ]
    readonly_fields = ["routing_credit", "last_assigned_at"]
    inlines = [WorkingPeriodInline, AbsenceInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager"]
    search_fields = ["name"]
    raw_id_fields = ["manager"]


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
